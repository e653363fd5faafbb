"""Per-image records of an evaluation, written next to the run's logs: what re-computes each logged
metric on any resample of the evaluation images. The suite's metrics (``transfer``) write them
(``write_top1``, ``write_coco_ap``, ``write_miou``) and the leaderboard's intervals read them back
(``read_records``; ``suite.results`` turns each into a metric of per-image counts).

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
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['KINDS', 'RECORDS', 'MANIFEST', 'Record', 'current_records_dir', 'logged_key',
           'read_manifest', 'read_records', 'write_coco_ap', 'write_miou', 'write_top1']

#: the records folder in a run folder, and its manifest
RECORDS = 'records'
MANIFEST = 'manifest.json'
#: the kinds of record, as described above
KINDS = ('top1', 'coco_ap', 'miou')


def current_records_dir() -> Optional[str]:
    """The records folder of the run evaluating now, ``<runner.log_dir>/records``; None outside a
    runner, where nothing is recorded.

    Found through mmengine's current logger rather than a hook: a Runner builds its logger first,
    with its log file in ``runner.log_dir``, and it stays the current MMLogger while the runner
    runs, so a metric finds the folder without any config naming a hook, and the records always
    sit next to the text log of the evaluation they belong to. Metrics are computed on the main
    process only, whose log file is ``<log_dir>/<timestamp>.log``."""
    from mmengine.logging import MMLogger
    log_file = MMLogger.get_current_instance().log_file
    return osp.join(osp.dirname(log_file), RECORDS) if log_file else None


def logged_key(prefix: Optional[str], name: str) -> str:
    """The key under which mmengine's evaluator logs a metric's ``name``."""
    return f'{prefix}/{name}' if prefix else name


def _file_name(prefix: Optional[str], kind: str) -> str:
    """The npz of a metric's records: after its prefix, or its kind without one."""
    return (prefix or kind).replace('/', '_') + '.npz'


def _save(folder: str, file: str, arrays: Dict[str, np.ndarray], entries: Dict[str, dict]) -> None:
    """Write ``arrays`` to ``folder/file`` and merge ``entries`` (logged key -> entry, each naming
    ``file``) into the manifest; the entries of a metric replace those of its last evaluation."""
    os.makedirs(folder, exist_ok=True)
    np.savez_compressed(osp.join(folder, file), **arrays)
    path = osp.join(folder, MANIFEST)
    manifest = read_manifest(path) if osp.exists(path) else {}
    manifest.update({k: dict(e, file=file) for k, e in entries.items()})
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, path)  # a killed run leaves the last whole manifest


def write_top1(folder: str, prefix: Optional[str], labels: Sequence[int],
               correct: Dict[str, np.ndarray], values: Dict[str, float]) -> None:
    """Record top-1 accuracies: per logged key, each image's correctness and the logged value;
    the ground-truth labels are the pairing keys."""
    arrays = {f'correct{i}': np.asarray(c, dtype=bool) for i, c in enumerate(correct.values())}
    entries = {key: dict(kind='top1', array=f'correct{i}', value=float(values[key]))
               for i, key in enumerate(correct)}
    _save(folder, _file_name(prefix, 'top1'), dict(arrays, keys=np.asarray(labels, dtype=np.int64)),
          entries)


def write_coco_ap(folder: str, prefix: Optional[str], image_ids: Sequence[int],
                  category_ids: Sequence[int], entries: Dict[str, dict]) -> None:
    """Record COCO APs: per logged key an entry with ``results`` (the detections json, in
    ``folder``), ``ann_file``, ``iou_type``, ``max_dets`` and ``value``; the evaluated images'
    ids are the pairing keys."""
    entries = {k: dict(e, kind='coco_ap', value=float(e['value'])) for k, e in entries.items()}
    arrays = dict(keys=np.unique(np.asarray(image_ids, dtype=np.int64)),
                  category_ids=np.asarray(category_ids, dtype=np.int64))
    _save(folder, _file_name(prefix, 'coco_ap'), arrays, entries)


def write_miou(folder: str, prefix: Optional[str], names: Sequence[str], intersect: np.ndarray,
               union: np.ndarray, value: float) -> None:
    """Record mIoU: per image (named in ``names``, the pairing keys) its intersection and union
    areas per class, and the logged value."""
    arrays = dict(keys=np.asarray(names, dtype=str), intersect=np.asarray(intersect, np.int64),
                  union=np.asarray(union, np.int64))
    _save(folder, _file_name(prefix, 'miou'), arrays,
          {logged_key(prefix, 'mIoU'): dict(kind='miou', value=float(value))})


def read_manifest(path: str) -> dict:
    """The manifest at ``path``; an error naming it when it is not a JSON object."""
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from err
    if not isinstance(manifest, dict):
        raise ValueError(f'{path}: expected a JSON object (logged key -> entry)')
    return manifest


@dataclass(frozen=True, eq=False)
class Record:
    """One logged metric's records as written: its manifest ``entry`` (``kind``, ``value`` and
    what the kind needs), the ``arrays`` of its npz, and the records ``folder`` they are in."""
    folder: str
    entry: dict
    arrays: Dict[str, np.ndarray]

    @property
    def keys(self) -> np.ndarray:
        """The pairing keys, one per evaluation image."""
        return self.arrays['keys']

    @property
    def value(self) -> float:
        """The value the evaluation logged."""
        return float(self.entry['value'])


def _load_arrays(path: str) -> Dict[str, np.ndarray]:
    """The arrays of an npz, read whole (the file is closed after)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file (named in the records manifest)')
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def read_records(run_dir: str) -> Dict[str, Record]:
    """Logged key -> its records, of the evaluation in a run folder; empty where the run wrote
    none (a run from before records, or an evaluation without them)."""
    folder = osp.join(run_dir, RECORDS)
    path = osp.join(folder, MANIFEST)
    if not osp.exists(path):
        return {}
    out, arrays = {}, {}
    for key, entry in read_manifest(path).items():
        if entry.get('kind') not in KINDS:
            raise ValueError(f'{path}: {key} has kind {entry.get("kind")!r}; known kinds are '
                             f'{sorted(KINDS)}')
        if entry['file'] not in arrays:
            arrays[entry['file']] = _load_arrays(osp.join(folder, entry['file']))
        out[key] = Record(folder, entry, arrays[entry['file']])
    return out
