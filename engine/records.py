"""Per-image records of an evaluation, written next to the run's logs: what re-computes each logged
metric on any resample of the evaluation images. The suite's metrics (``transfer``) write them; the
format, and the reader the leaderboard's intervals use, are described in ``suite.records``."""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['RECORDS', 'MANIFEST', 'current_records_dir', 'logged_key', 'read_manifest',
           'write_coco_ap', 'write_miou', 'write_top1']

#: the records folder in a run folder, and its manifest
RECORDS = 'records'
MANIFEST = 'manifest.json'


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
