"""Per-image records of an evaluation: what re-computes each logged metric on any resample of the
evaluation images (``suite.significance``), written by the suite's metrics next to the run's logs
(``engine.records``) and read back here for the leaderboard's intervals.

A run folder (``<work_dir>/<timestamp>/``, mmengine's ``runner.log_dir``) holds one kind of
evaluation: a ``tools/test.py`` run makes its own, and a training run's validations overwrite each
other's records, so the records in a run folder belong to the metrics the leaderboard reads from it
(``suite.results.result_of``). The format, in ``<run>/records/``:

- ``manifest.json``: logged key (as in the json logs, e.g. ``clevr_count/top1_avg``) -> an entry
  with its ``kind``, its ``file`` (an ``.npz`` in the folder), the ``value`` the evaluation logged
  and what the kind needs besides;
- each ``.npz`` holds ``keys``, the pairing keys: one per evaluation image, in evaluation order
  (two runs are compared image by image only where their keys agree).

Kinds, each value in the logged units:

- ``top1`` (``ProbeAccuracy``): array ``correct`` (its name in ``array``), each image's
  correctness; the keys are the ground-truth labels. Top-1 in %.
- ``coco_ap`` (``CocoMetricWithRecords``): the detections in COCO's results format (``results``,
  a json in the folder), the ground truth (``ann_file``), ``iou_type``, ``max_dets``, and arrays
  ``keys`` (image ids, sorted as COCOeval sorts them) and ``category_ids``. COCO AP (stats[0]) as
  a fraction, re-accumulated by ``suite.significance.CocoAP``.
- ``miou`` (``IoUMetricWithRecords``): arrays ``intersect`` and ``union`` (images x classes, pixel
  areas); the keys are the image file names. mIoU in %: per class the count-weighted sum of
  intersections over that of unions, its mean over classes with a union (as mmseg's IoUMetric,
  which rounds the logged value to 2 decimals; the records keep it unrounded).
"""
import os
import os.path as osp
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable, Dict

import numpy as np

from engine.records import MANIFEST, RECORDS, read_manifest
from suite.significance import CocoAP, Metric, evaluate_images, load_gt, load_results, \
    top1_from_counts

__all__ = ['PerImage', 'miou_from_counts', 'run_records']


@dataclass(frozen=True, eq=False)
class PerImage:
    """One logged metric of one evaluation: the pairing keys of its images, the value it logged,
    and its metric of per-image counts (built on first use: COCO's needs a COCOeval)."""
    keys: np.ndarray
    value: float
    build: Callable[[], Metric]

    @cached_property
    def metric(self) -> Metric:
        """Per-image counts (one per key) -> the metric in the logged units."""
        return self.build()


def miou_from_counts(intersect: np.ndarray, union: np.ndarray) -> Metric:
    """mIoU (%) of per-image intersection and union areas (images x classes), as a metric of
    per-image counts: classes without a union in the resample are left out of the mean."""
    intersect, union = np.asarray(intersect, float), np.asarray(union, float)

    def miou(counts: np.ndarray) -> float:
        with np.errstate(invalid='ignore'):  # 0 / 0 is mmseg's nan: a class absent from both
            return 100.0 * float(np.nanmean((counts @ intersect) / (counts @ union)))
    return miou


@lru_cache(maxsize=2)
def _ground_truth(path: str, size: int, mtime_ns: int):
    """The COCO ground truth at ``path`` as it is on disk (its size and modification time in the
    key), read once for the box and mask entries of every run evaluated against it."""
    return load_gt(path)


def _coco_ap(folder: str, entry: dict, arrays) -> Metric:
    """COCO AP (fraction) of an entry's detections, over its images and categories."""
    path = entry['ann_file']
    stat = os.stat(path) if osp.isfile(path) else None
    coco_gt = _ground_truth(path, stat.st_size, stat.st_mtime_ns) if stat else load_gt(path)
    coco_dt = load_results(coco_gt, osp.join(folder, entry['results']), entry['iou_type'])
    return CocoAP(evaluate_images(coco_gt, coco_dt, entry['iou_type'], entry['max_dets'],
                                  arrays['keys'], arrays['category_ids']))


#: kind -> (records folder, manifest entry, the npz's arrays) -> its metric
_METRICS: Dict[str, Callable[[str, dict, dict], Metric]] = {
    'top1': lambda folder, entry, arrays: top1_from_counts(arrays[entry['array']]),
    'coco_ap': _coco_ap,
    'miou': lambda folder, entry, arrays: miou_from_counts(arrays['intersect'], arrays['union']),
}


def _load_arrays(path: str) -> Dict[str, np.ndarray]:
    """The arrays of an npz, read whole (the file is closed after)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file (named in the records manifest)')
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def run_records(run_dir: str) -> Dict[str, PerImage]:
    """Logged key -> its per-image records, of the evaluation in a run folder; empty where the
    run wrote none (a run from before records, or an evaluation without them)."""
    folder = osp.join(run_dir, RECORDS)
    path = osp.join(folder, MANIFEST)
    if not osp.exists(path):
        return {}
    out, arrays = {}, {}
    for key, entry in read_manifest(path).items():
        kind = entry.get('kind')
        if kind not in _METRICS:
            raise ValueError(f'{path}: {key} has kind {kind!r}; known kinds are {sorted(_METRICS)}')
        if entry['file'] not in arrays:
            arrays[entry['file']] = _load_arrays(osp.join(folder, entry['file']))
        data = arrays[entry['file']]
        out[key] = PerImage(data['keys'], float(entry['value']),
                            lambda e=entry, d=data: _METRICS[e['kind']](folder, e, d))
    return out
