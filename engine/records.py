"""Per-image records of an evaluation, written next to the run's logs: what re-computes each logged
metric on any resample of the evaluation images. The suite's metrics (``transfer``) write them
(``write_top1``, ``write_coco_ap``, ``write_miou``, ``write_means``) and the leaderboard's
intervals read them back (``read_records``; ``suite.results`` turns each into a metric of
per-image counts).

A run folder (``<work_dir>/<timestamp>/``, mmengine's ``runner.log_dir``) holds one kind of
evaluation: a ``tools/test.py`` run makes its own, and a training run's validations overwrite each
other's records, so the records in a run folder belong to the metrics the leaderboard reads from it
(``suite.results.result_of``). The format, in ``<run>/records/``:

- ``manifest.json``: logged key (as in the json logs, e.g. ``clevr_count/top1_avg``) -> an entry
  with its ``kind``, its ``file`` (an ``.npz`` in the folder), the ``value`` the evaluation logged,
  its ``pairing`` and what the kind needs besides;
- each ``.npz`` holds ``keys``, the pairing keys: one per evaluation image, in evaluation order,
  each naming the image together with the data that decides its ground truth.

Two runs are compared image by image only where their records' identities (``Record.identity``:
the kind, the ``pairing`` and, for COCO, the ground truth's ``ann_sha256``) are the same and their
keys agree. ``pairing`` says what the keys are; an entry without it (records written before keys
identified the images, or by an evaluation that could not identify them) pairs with nothing: the
leaderboard gives its intervals as missing, with a warning.

Kinds, each value in the logged units:

- ``top1`` (``ProbeAccuracy``): array ``correct`` (its name in ``array``), each image's
  correctness. Keys (``pairing`` ``'path#label'``, :func:`image_keys`): the image's path relative
  to its dataset's ``data_root`` (for a dataset without one, CLEVR's: relative to the folder
  holding all its images, which gives CLEVR's ``image_filename``), ``#`` and its label, e.g.
  ``val/n01440764/ILSVRC2012_val_00000293.JPEG#0``; the evaluated dataset names them in its
  ``metainfo['images']``. Where the images cannot be identified (a dataset that names none, results
  not in the dataset's order) the keys are the labels and the entry has no ``pairing``. Top-1 in %.
- ``coco_ap`` (``CocoMetricWithRecords``): the detections in COCO's results format (``results``,
  a json in the folder), the ground truth (``ann_file``) and the sha256 of its bytes at evaluation
  (``ann_sha256``), ``iou_type``, ``max_dets``, and arrays ``keys`` (image ids, sorted as COCOeval
  sorts them; ``pairing`` ``'image_id'``) and ``category_ids``. COCO AP (stats[0]) as a fraction,
  re-accumulated by ``suite.significance.CocoAP``, which refuses a ground truth whose bytes have
  changed since.
- ``miou`` (``IoUMetricWithRecords``): arrays ``intersect`` and ``union`` (images x classes, pixel
  areas). Keys (``pairing`` ``'name#gt_sha256'``): the image's file name, ``#`` and the first 16 hex
  digits of the sha256 of its ground-truth label map as the metric compared it
  (:func:`label_map_digest`: its shape and values). mIoU in %: per class the count-weighted sum of
  intersections over that of unions, its mean over classes with a union (as mmseg's IoUMetric,
  which rounds the logged value to 2 decimals; the records keep it unrounded).
- ``mean`` (metrics that are means over images of per-image values, e.g.
  ``DepthMetricWithRecords``' RMSE, abs rel and delta1): array ``values<i>`` (its name in
  ``array``), each image's value, NaN for an image that has none (nothing to evaluate in it), which
  the mean leaves out. Keys: strings naming each image together with its ground truth, as the
  writer's ``pairing`` says (depth: ``'path#gt_sha256'``, the path as :func:`relative_paths` gives
  it, ``#`` and :func:`label_map_digest` of the ground truth in integer units). The logged value is
  the mean of the values of the images that have one, in the metric's own units.

Each file is written to a temporary file in the folder and renamed, the npz before the manifest, so
a killed evaluation leaves the last whole records; each entry holds the sha256 of its npz
(``npz_sha256``) and, for COCO, of its detections (``results_sha256``), so that a file replaced by
an evaluation killed before its manifest is refused rather than read as the entry's.
``read_records`` checks what it reads: an unreadable manifest leaves out the run's records, and an
entry that is malformed, or whose npz is unreadable, not its own or holds arrays of the wrong
shape, is left out; each with a warning naming the file.
"""
import hashlib
import io
import json
import os
import os.path as osp
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['KINDS', 'RECORDS', 'MANIFEST', 'Record', 'RecordsError', 'correctness',
           'current_records_dir', 'file_sha256', 'image_keys', 'label_map_digest', 'logged_key',
           'read_manifest', 'read_records', 'relative_paths', 'replace_atomically',
           'write_coco_ap', 'write_means', 'write_miou', 'write_top1']

#: the records folder in a run folder, and its manifest
RECORDS = 'records'
MANIFEST = 'manifest.json'
#: the kinds of record, as described above
KINDS = ('top1', 'coco_ap', 'miou', 'mean')
#: per kind, what its entries need besides ``kind``, ``file`` and ``value``
_ENTRY_FIELDS = {'top1': ('array',), 'coco_ap': ('results', 'ann_file', 'iou_type', 'max_dets'),
                 'miou': (), 'mean': ('array',)}
#: the ``pairing`` of the records each writer makes, as described above
_PAIRING = {'top1': 'path#label', 'coco_ap': 'image_id', 'miou': 'name#gt_sha256'}


class RecordsError(ValueError):
    """Records that cannot be used; the message names the file."""


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


# ---------------------------------------------------------------- what identifies an image


def file_sha256(path: str) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def label_map_digest(label_map: np.ndarray) -> str:
    """The first 16 hex digits of the sha256 of a ground-truth label map's shape and values (as
    64-bit integers: the same map stored in another integer type has the same digest), its
    channel axes of size 1 squeezed out."""
    label_map = np.ascontiguousarray(np.squeeze(np.asarray(label_map)), dtype=np.int64)
    digest = hashlib.sha256(f'{label_map.shape}'.encode())
    digest.update(label_map.tobytes())
    return digest.hexdigest()[:16]


def relative_paths(paths: Sequence[str], root: Optional[str]) -> List[str]:
    """Each path relative to ``root`` (a dataset's ``data_root``) where all lie under it, else to
    the folder holding them all, with ``/`` between folders on every system: what names an image
    in the pairing keys."""
    prefix = osp.join(root, '') if root else None
    if prefix and all(p.startswith(prefix) for p in paths):  # the datasets' own joins: no stat
        relative = [p[len(prefix):] for p in paths]
    else:
        absolute = [osp.abspath(p) for p in paths]
        folder = osp.abspath(root) if root else None
        if not folder or any(osp.commonpath([folder, p]) != folder for p in absolute):
            folder = osp.commonpath([osp.dirname(p) for p in absolute]) if absolute else ''
        relative = [osp.relpath(p, folder) for p in absolute]
    return [r.replace(os.sep, '/') for r in relative]


def image_keys(paths: Sequence[str], labels: Sequence[int], root: Optional[str]) -> List[str]:
    """The top-1 pairing key of each image: ``'<path>#<label>'``, its path as
    :func:`relative_paths` gives it. The classification datasets and CLEVR's put these in their
    ``metainfo['images']``, which mmengine's loops hand to the metric as its ``dataset_meta``."""
    return [f'{r}#{int(y)}' for r, y in zip(relative_paths(paths, root), labels)]


# ---------------------------------------------------------------- writing


def _file_name(prefix: Optional[str], kind: str) -> str:
    """The npz of a metric's records: after its prefix, or its kind without one."""
    return (prefix or kind).replace('/', '_') + '.npz'


def replace_atomically(path: str, write: Callable[[Any], None]) -> None:
    """Write a file through ``write(binary file object)`` to a temporary file beside it and rename
    it into place: a reader never meets half a file, and a kill leaves the last whole one."""
    tmp = path + '.tmp'
    try:
        with open(tmp, 'wb') as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _previous_manifest(path: str) -> dict:
    """The manifest to merge new entries into: the one at ``path``, or none where it is missing
    or unreadable (its records could not be read anyway: a warning says they are dropped)."""
    if not osp.exists(path):
        return {}
    try:
        return read_manifest(path)
    except (OSError, ValueError) as err:
        warnings.warn(f'{err}: written anew, without the records it listed', stacklevel=3)
        return {}


def _save(folder: str, file: str, arrays: Dict[str, np.ndarray], entries: Dict[str, dict]) -> None:
    """Write ``arrays`` to ``folder/file`` and merge ``entries`` (logged key -> entry, each naming
    ``file``) into the manifest; the entries of a metric replace those of its last evaluation."""
    os.makedirs(folder, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    replace_atomically(osp.join(folder, file), lambda f: f.write(data))
    path = osp.join(folder, MANIFEST)
    manifest = _previous_manifest(path)
    # the npz's digest ties each entry to its arrays: a kill between the two renames leaves a new
    # npz beside the old entries, which the reader then refuses
    digest = hashlib.sha256(data).hexdigest()
    manifest.update({k: dict(e, file=file, npz_sha256=digest) for k, e in entries.items()})
    replace_atomically(path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))


def correctness(values: Sequence) -> np.ndarray:
    """Per-image correctness as stored: booleans as booleans, anything else as float64
    fractions, which must lie in [0, 1]."""
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    array = array.astype(np.float64)
    if not ((array >= 0) & (array <= 1)).all():
        raise ValueError('correctness: per-image correctness must be booleans or fractions in '
                         f'[0, 1], got values from {array.min()} to {array.max()}')
    return array


def _per_image_arrays(kind: str, stem: str, per_image: Dict[str, np.ndarray],
                      logged: Dict[str, float],
                      pairing: Optional[str]) -> Tuple[Dict[str, np.ndarray], Dict[str, dict]]:
    """The npz arrays and manifest entries of a kind that keeps one array of per-image values a
    logged key (``top1``, ``mean``): array ``<stem><i>`` for the i-th key, named in its entry with
    the logged value and, where the keys identify the images, their ``pairing``."""
    arrays = {f'{stem}{i}': array for i, array in enumerate(per_image.values())}
    entries = {key: dict(kind=kind, array=f'{stem}{i}', value=float(logged[key]))
               for i, key in enumerate(per_image)}
    if pairing is not None:
        entries = {k: dict(e, pairing=pairing) for k, e in entries.items()}
    return arrays, entries


def write_top1(folder: str, prefix: Optional[str], labels: Sequence[int],
               correct: Dict[str, np.ndarray], values: Dict[str, float],
               images: Optional[Sequence[str]] = None) -> None:
    """Record top-1 accuracies: per logged key, each image's correctness (booleans, or
    fractions in [0, 1] for a mean over several classifiers, e.g. few-shot draws) and the logged
    value. The pairing keys are ``images``, each image's ``'<path>#<label>'``
    (:func:`image_keys`); without them, the ground-truth ``labels``, and the records pair with no
    other run's."""
    if images is not None and len(images) != len(labels):
        raise ValueError(f'write_top1: {len(images)} images for {len(labels)} labels')
    keys = (np.asarray(labels, dtype=np.int64) if images is None
            else np.asarray(images, dtype=str))
    arrays, entries = _per_image_arrays(
        'top1', 'correct', {k: correctness(c) for k, c in correct.items()}, values,
        None if images is None else _PAIRING['top1'])
    _save(folder, _file_name(prefix, 'top1'), dict(arrays, keys=keys), entries)


def write_coco_ap(folder: str, prefix: Optional[str], image_ids: Sequence[int],
                  category_ids: Sequence[int], entries: Dict[str, dict]) -> None:
    """Record COCO APs: per logged key an entry with ``results`` (the detections json, in
    ``folder``), ``ann_file``, ``iou_type``, ``max_dets`` and ``value``; the evaluated images'
    ids are the pairing keys, and the sha256 of each ground truth file is recorded with them. A
    ground truth that is not a local file (nothing the leaderboard could read either) is recorded
    without: a warning says its records pair with no other run's."""
    digests = {path: file_sha256(path) if osp.isfile(path) else None
               for path in {e['ann_file'] for e in entries.values()}}
    for path in (p for p, digest in digests.items() if digest is None):
        warnings.warn(f'{path}: the COCO ground truth is not a local file, so its records do not '
                      'identify it and pair with no other run\'s', stacklevel=2)
    recorded = {}
    for key, given in entries.items():
        entry = recorded[key] = dict(given, kind='coco_ap', value=float(given['value']))
        results = osp.join(folder, entry['results'])
        if osp.isfile(results):
            entry['results_sha256'] = file_sha256(results)
        if digests[entry['ann_file']]:
            entry.update(pairing=_PAIRING['coco_ap'], ann_sha256=digests[entry['ann_file']])
    arrays = dict(keys=np.unique(np.asarray(image_ids, dtype=np.int64)),
                  category_ids=np.asarray(category_ids, dtype=np.int64))
    _save(folder, _file_name(prefix, 'coco_ap'), arrays, recorded)


def write_miou(folder: str, prefix: Optional[str], names: Sequence[str], intersect: np.ndarray,
               union: np.ndarray, value: float,
               label_digests: Optional[Sequence[str]] = None) -> None:
    """Record mIoU: per image (named in ``names``) its intersection and union areas per class, and
    the logged value. The pairing keys are ``'<name>#<digest>'`` with each image's
    :func:`label_map_digest` in ``label_digests``; without them, the names, and the records pair
    with no other run's."""
    entry = dict(kind='miou', value=float(value))
    if label_digests is None:
        keys = np.asarray(names, dtype=str)
    else:
        if len(label_digests) != len(names):
            raise ValueError(f'write_miou: {len(label_digests)} label digests for {len(names)} '
                             'images')
        keys = np.asarray([f'{n}#{d}' for n, d in zip(names, label_digests)], dtype=str)
        entry['pairing'] = _PAIRING['miou']
    arrays = dict(keys=keys, intersect=np.asarray(intersect, np.int64),
                  union=np.asarray(union, np.int64))
    _save(folder, _file_name(prefix, 'miou'), arrays, {logged_key(prefix, 'mIoU'): entry})


def write_means(folder: str, prefix: Optional[str], keys: Sequence[str],
                values: Dict[str, np.ndarray], logged: Dict[str, float],
                pairing: Optional[str] = None) -> None:
    """Record metrics that are means over images of per-image values: per logged key, each image's
    value (NaN where it has none) and the logged value. ``keys`` name the images, one per value,
    as ``pairing`` says; without a ``pairing`` the records pair with no other run's."""
    per_image = {key: np.asarray(array, dtype=np.float64) for key, array in values.items()}
    for key, array in per_image.items():
        if array.shape != (len(keys),):
            raise ValueError(f'write_means: {key} has values of shape {array.shape} for '
                             f'{len(keys)} images')
    arrays, entries = _per_image_arrays('mean', 'values', per_image, logged, pairing)
    _save(folder, _file_name(prefix, 'mean'), dict(arrays, keys=np.asarray(keys, dtype=str)),
          entries)


# ---------------------------------------------------------------- reading


def read_manifest(path: str) -> dict:
    """The manifest at ``path``; an error naming it when it is not a JSON object."""
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise RecordsError(f'{path} is not valid JSON: {err}') from err
    if not isinstance(manifest, dict):
        raise RecordsError(f'{path}: expected a JSON object (logged key -> entry)')
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

    @property
    def identity(self) -> Optional[str]:
        """What two records must share, besides equal keys, to be compared image by image: the
        kind, the ``pairing`` and, for COCO, the ground truth's sha256. None where the keys do not
        identify the images (records written before they did, or without images to name)."""
        pairing = self.entry.get('pairing')
        if pairing is None:
            return None
        digest = self.entry.get('ann_sha256')
        return f"{self.entry['kind']} {pairing}" + (f' sha256:{digest}' if digest else '')


def _check_entry(path: str, key: str, entry: Any) -> None:
    """A ``RecordsError`` naming the manifest at ``path`` unless ``entry`` is a whole entry."""
    if not isinstance(entry, dict):
        raise RecordsError(f'{path}: {key} is not an entry (a JSON object)')
    if entry.get('kind') not in KINDS:
        raise RecordsError(f'{path}: {key} has kind {entry.get("kind")!r}; known kinds are '
                           f'{sorted(KINDS)}')
    missing = [f for f in ('file', 'value') + _ENTRY_FIELDS[entry['kind']] if f not in entry]
    if missing:
        raise RecordsError(f'{path}: the {entry["kind"]} entry {key} lacks {", ".join(missing)}')
    file = entry['file']
    if not isinstance(file, str) or osp.basename(file) != file or not file.endswith('.npz'):
        raise RecordsError(f'{path}: {key} names file {file!r}, not an npz in the records folder')
    value = entry['value']
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordsError(f'{path}: {key} has value {value!r}, not a number')
    for field in ('pairing', 'ann_sha256', 'array', 'npz_sha256', 'results_sha256'):
        if field in entry and not isinstance(entry[field], str):
            raise RecordsError(f'{path}: {key} has {field} {entry[field]!r}, not a string')
    if entry['kind'] == 'coco_ap' and 'pairing' in entry and 'ann_sha256' not in entry:
        raise RecordsError(f'{path}: the coco_ap entry {key} has a pairing but no ann_sha256')


def _shapes(kind: str, entry: dict) -> Dict[str, Callable[[tuple, int], bool]]:
    """A kind's arrays besides ``keys``, each with what its shape must be for ``n`` keys."""
    if kind in ('top1', 'mean'):
        return {entry['array']: lambda shape, n: shape == (n,)}
    if kind == 'coco_ap':
        return {'category_ids': lambda shape, n: len(shape) == 1}
    return {'intersect': lambda shape, n: len(shape) == 2 and shape[0] == n,
            'union': lambda shape, n: len(shape) == 2 and shape[0] == n}


def _check_arrays(path: str, key: str, entry: dict, arrays: Dict[str, np.ndarray]) -> None:
    """A ``RecordsError`` naming the npz at ``path`` unless it holds ``keys`` and the arrays of
    ``entry``'s kind, one row per key."""
    if 'keys' not in arrays or arrays['keys'].ndim != 1:
        raise RecordsError(f'{path}: no 1-d array keys (the pairing keys of {key})')
    n = len(arrays['keys'])
    for name, fits in _shapes(entry['kind'], entry).items():
        if name not in arrays:
            raise RecordsError(f'{path}: no array {name} (the records of {key})')
        if not fits(arrays[name].shape, n):
            raise RecordsError(f'{path}: array {name} of shape {arrays[name].shape} for {n} keys '
                               f'(the records of {key})')
    if entry['kind'] == 'miou' and arrays['intersect'].shape != arrays['union'].shape:
        raise RecordsError(f'{path}: arrays intersect {arrays["intersect"].shape} and union '
                           f'{arrays["union"].shape} differ (the records of {key})')


def _load_arrays(path: str) -> Tuple[Dict[str, np.ndarray], str]:
    """The arrays of an npz, read whole, and the sha256 of its bytes; a ``RecordsError`` naming
    it where it is missing or unreadable."""
    if not osp.isfile(path):
        raise RecordsError(f'{path}: no such file (named in the records manifest)')
    try:
        with open(path, 'rb') as f:
            raw = f.read()
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}, hashlib.sha256(raw).hexdigest()
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise RecordsError(f'{path}: not a readable npz ({type(err).__name__}: {err})') from err


def _cached_arrays(path: str, loaded: Dict[str, Any], key: str,
                   entry: dict) -> Dict[str, np.ndarray]:
    """The arrays of the npz at ``path`` for ``entry``, read once for all the entries naming it
    (``loaded``: path -> its arrays and digest, or the error reading it gave); an error where the
    npz is not the one the entry was written with."""
    if path not in loaded:
        try:
            loaded[path] = _load_arrays(path)
        except RecordsError as err:
            loaded[path] = err
    if isinstance(loaded[path], RecordsError):
        raise RecordsError(str(loaded[path]))
    arrays, digest = loaded[path]
    if entry.get('npz_sha256', digest) != digest:
        raise RecordsError(f'{path}: not the npz the entry {key} was written with (its sha256 '
                           'differs: an evaluation killed between writing it and the manifest?)')
    return arrays


def read_records(run_dir: str) -> Dict[str, Record]:
    """Logged key -> its records, of the evaluation in a run folder; empty where the run wrote
    none (a run from before records, or an evaluation without them). Records that cannot be used
    are left out with a warning naming their file (see the module's docstring)."""
    folder = osp.join(run_dir, RECORDS)
    path = osp.join(folder, MANIFEST)
    if not osp.exists(path):
        return {}
    try:
        manifest = read_manifest(path)
    except (OSError, RecordsError) as err:
        warnings.warn(f'{err}: the records of {run_dir} are left out (no intervals)', stacklevel=2)
        return {}
    out: Dict[str, Record] = {}
    loaded: Dict[str, Any] = {}
    for key, entry in manifest.items():
        try:
            _check_entry(path, key, entry)
            npz = osp.join(folder, entry['file'])
            arrays = _cached_arrays(npz, loaded, key, entry)
            _check_arrays(npz, key, entry, arrays)
        except RecordsError as err:
            warnings.warn(f'{err}: left out, no interval for {key}', stacklevel=2)
            continue
        out[key] = Record(folder, entry, arrays)
    return out
