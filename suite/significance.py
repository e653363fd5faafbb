"""Is B better than A on this test set? A paired bootstrap over evaluation images
(``tools/significance.py``).

A metric here is a function of per-image counts: ``counts[i]`` says how often image ``i`` is in a
resample (all ones is the full test set). ``paired_bootstrap`` draws images with replacement and
applies the same draws to both methods, so what the two share (hard images, easy images) cancels in
the difference; a method of several seeds also has its seeds drawn, so the interval holds the luck
of the seed besides that of the images. ``top1_from_counts`` is the trivial metric (per-image
correctness), ``mean_from_counts`` the same for per-image values (depth errors); ``CocoAP`` is
COCO's AP (stats[0] of ``COCOeval``): pycocotools matches detections to ground truth once per
image, and the accumulation is redone here with each image's records weighted by its count, which
is the same as repeating the image (see ``CocoAP`` for the one case where it is not).
"""
import contextlib
import io
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from engine.records import Record, file_sha256

#: a metric of a resample: per-image counts (length num_images) -> value
Metric = Callable[[np.ndarray], float]

#: one method's metric, or its metrics one per seed (runs on the same images)
Metrics = Union[Metric, Sequence[Metric]]

#: COCO's 'all' area range and the summary's maxDets
AREA_ALL = [0 ** 2, 1e5 ** 2]
MAX_DETS = 100


@dataclass(frozen=True)
class Bootstrap:
    """The two values on the full set (each a mean over its seeds), their difference (B - A) and
    its bootstrap distribution."""
    value_a: float
    value_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_le_0: float
    resamples: int


def resample_counts(num_images: int, resamples: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Per-image counts of ``resamples`` draws of ``num_images`` images with replacement."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.bincount(rng.integers(0, num_images, num_images), minlength=num_images)


def _seeds(metrics: Metrics) -> List[Metric]:
    """A side of the bootstrap as a list of metrics, one per seed."""
    seeds = [metrics] if callable(metrics) else list(metrics)
    if not seeds:
        raise ValueError('a side of the bootstrap needs at least one metric')
    return seeds


def _mean_of_drawn_seeds(seeds: List[Metric], counts: np.ndarray,
                         rng: np.random.Generator) -> float:
    """A side's value on one resample of images: the mean over its seeds drawn with replacement
    (each drawn seed's metric evaluated once, however often it is drawn)."""
    drawn = rng.integers(0, len(seeds), len(seeds))
    values = {i: seeds[i](counts) for i in set(drawn.tolist())}
    return float(np.mean([values[i] for i in drawn.tolist()]))


def paired_bootstrap(metric_a: Metrics, metric_b: Metrics, num_images: int, resamples: int = 1000,
                     seed: int = 0) -> Bootstrap:
    """B - A on the full set, with the 2.5 / 97.5 percentiles of B - A over the same resamples
    and the share of resampled differences that are <= 0.

    Each side is one metric, or a list of metrics, one per seed (each a run on the same images, in
    the same order). A side's value on the full set is the mean over its seeds. Each resample draws
    the images once with replacement (``resample_counts(num_images, resamples, seed)``), shared by
    both sides and all their seeds, and then, per side, as many seeds as it has, with replacement;
    the side's value on the resample is the mean over its drawn seeds. The seeds are drawn from a
    stream of their own, so a side of one metric gives the plain paired bootstrap over images,
    with the same image draws as ever."""
    if resamples < 1:
        raise ValueError(f'resamples must be at least 1, got {resamples}')
    side_a, side_b = _seeds(metric_a), _seeds(metric_b)
    full = np.ones(num_images, dtype=np.int64)
    value_a, value_b = (float(np.mean([m(full) for m in side])) for side in (side_a, side_b))
    seed_rng = np.random.default_rng([seed, 1])
    deltas = []
    for counts in resample_counts(num_images, resamples, seed):
        resampled_a = _mean_of_drawn_seeds(side_a, counts, seed_rng)
        deltas.append(_mean_of_drawn_seeds(side_b, counts, seed_rng) - resampled_a)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return Bootstrap(value_a, value_b, value_b - value_a, float(low), float(high),
                     float(np.mean(np.array(deltas) <= 0)), resamples)


def top1_from_counts(correct: np.ndarray) -> Metric:
    """Top-1 accuracy (%) of per-image correctness, as a metric of per-image counts."""
    correct = np.asarray(correct, dtype=float)
    return lambda counts: 100.0 * float(counts @ correct) / float(counts.sum())


def mean_from_counts(values: np.ndarray) -> Metric:
    """The mean over images of per-image values (each image's RMSE, say), as a metric of per-image
    counts: the counts-weighted mean, images without a value (NaN) left out; NaN where a resample
    draws none with a value."""
    values = np.asarray(values, dtype=float)
    known = ~np.isnan(values)
    filled = np.where(known, values, 0.0)

    def mean(counts: np.ndarray) -> float:
        weight = float(counts @ known)
        return float(counts @ filled) / weight if weight else float('nan')
    return mean


# ---------------------------------------------------------------- COCO AP


@dataclass
class _Category:
    """One category's detections over all images, in the order COCOeval accumulates them."""
    image: np.ndarray      # (n,) image index of each detection
    tp: np.ndarray         # (T, n) matched and not ignored, per IoU threshold
    fp: np.ndarray         # (T, n) unmatched and not ignored
    gt_image: np.ndarray   # (g,) images with non-ignored ground truth
    gt_count: np.ndarray   # (g,) how many there are in each


class CocoAP:
    """COCO AP (stats[0]: IoU 0.50:0.95, area 'all', maxDets 100 or mmdet's 1000) of a resample of
    images.

    Built from ``COCOeval.evalImgs`` (area 'all', the last maxDets): per category, the detections of
    all images are sorted by score once, stably in image order as COCOeval does; a resample weights
    each detection and ground truth by its image's count, so tp/fp cumulative sums, recall,
    precision, its envelope and the 101 recall points follow COCOeval.accumulate exactly. The full
    set reproduces COCOeval. A repeated image is the same as its copies next to each other in the
    sort; COCOeval on a physically duplicated set agrees unless detections of different images (or
    two in one image) tie in score, where COCOeval's own result depends on the copies' ids.
    """

    def __init__(self, coco_eval) -> None:
        """From a COCOeval whose ``evaluate()`` has run with area 'all'; AP at its last maxDets."""
        params = coco_eval.params
        self.image_ids: List[int] = list(params.imgIds)
        self.max_dets = int(params.maxDets[-1])
        self.rec_thrs: np.ndarray = params.recThrs
        self.num_thrs = len(params.iouThrs)
        area = [list(a) for a in params.areaRng].index(AREA_ALL)
        self.categories = [self._category(coco_eval, k, area) for k in range(len(params.catIds))]

    def _category(self, coco_eval, k: int, area: int) -> _Category:
        """Category ``k``'s records, concatenated in image order and stably sorted by score."""
        num_images, num_areas = len(self.image_ids), len(coco_eval.params.areaRng)
        start = (k * num_areas + area) * num_images
        scores, image, tp, fp, gt_image, gt_count = [], [], [], [], [], []
        for i, e in enumerate(coco_eval.evalImgs[start:start + num_images]):
            if e is None:
                continue
            matched = e['dtMatches'][:, :self.max_dets] != 0
            ignored = e['dtIgnore'][:, :self.max_dets] != 0
            scores.append(np.asarray(e['dtScores'][:self.max_dets], dtype=float))
            image.append(np.full(len(scores[-1]), i))
            tp.append(matched & ~ignored)
            fp.append(~matched & ~ignored)
            gt = int(np.count_nonzero(e['gtIgnore'] == 0))
            if gt:
                gt_image.append(i)
                gt_count.append(gt)
        T = self.num_thrs
        scores = np.concatenate(scores) if scores else np.zeros(0)
        order = np.argsort(-scores, kind='mergesort')  # as COCOeval.accumulate: ties in image order

        def cat(xs: List[np.ndarray]) -> np.ndarray:
            return np.concatenate(xs, axis=1)[:, order] if xs else np.zeros((T, 0), bool)
        return _Category(np.concatenate(image)[order] if image else np.zeros(0, int),
                         cat(tp).astype(float), cat(fp).astype(float),
                         np.array(gt_image, dtype=int), np.array(gt_count, dtype=float))

    def _precision(self, c: _Category, counts: np.ndarray) -> np.ndarray:
        """The (T, R) interpolated precision of one category, or None without ground truth."""
        npig = float(counts[c.gt_image] @ c.gt_count)
        if npig == 0:
            return None
        w = counts[c.image]
        tp_sum, fp_sum = np.cumsum(c.tp * w, axis=1), np.cumsum(c.fp * w, axis=1)
        rc = tp_sum / npig
        pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        # a recall point beyond the last detection keeps precision 0, as in COCOeval
        padded = np.concatenate([envelope, np.zeros((self.num_thrs, 1))], axis=1)
        inds = np.stack([np.searchsorted(r, self.rec_thrs, side='left') for r in rc])
        return np.take_along_axis(padded, inds, axis=1)

    def __call__(self, counts: np.ndarray) -> float:
        """AP (fraction, as COCOeval's stats[0]) of the resample; -1 without any ground truth."""
        counts = np.asarray(counts, dtype=float)
        precisions = [p for p in (self._precision(c, counts) for c in self.categories)
                      if p is not None]
        if not precisions:
            return -1.0
        # the same flattening order (T, R, K) as COCOeval.summarize, for the same float sum
        return float(np.mean(np.ascontiguousarray(np.stack(precisions, axis=-1))))


def _read_json(path: str):
    """The JSON in ``path``; an error naming it when it is missing or not JSON."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        with open(path) as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from None


def load_gt(path: str):
    """A pycocotools COCO of the ground-truth JSON at ``path``."""
    return coco_gt_of(_read_json(path), path)


def coco_gt_of(data: dict, source: str = 'ground truth'):
    """A pycocotools COCO of a ground truth already in memory (``source`` names it in errors)."""
    from pycocotools.coco import COCO
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(data, dict) or k not in data]
    if missing:
        raise ValueError(f'{source}: not a COCO ground truth (missing {", ".join(missing)})')
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def _finite_number(x: object) -> bool:
    """Whether a JSON value is a finite number (not a bool, a string, NaN or an infinity)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_detections(anns: List[dict], path: str, iou_type: str) -> None:
    """An error naming ``path`` for detections pycocotools would fail on or rank by nonsense: a
    score that is not a finite number (AP sorts by it; NaN has no place in the order), or for box
    results a bbox that is not 4 finite numbers."""
    bad = [i for i, a in enumerate(anns) if not _finite_number(a['score'])]
    if bad:
        raise ValueError(f'{path}: {len(bad)} of {len(anns)} entries have a score that is not a '
                         f'finite number (e.g. entry {bad[0]}: {anns[bad[0]]["score"]!r})')
    if iou_type != 'bbox':
        return  # mask results lose their boxes (see load_results)
    for i, a in enumerate(anns):
        box = a['bbox']
        if not (isinstance(box, list) and len(box) == 4 and all(map(_finite_number, box))):
            raise ValueError(f'{path}: entry {i} has bbox {box!r}: a bbox is 4 numbers x, y, w, h')


def load_results(coco_gt, path: str, iou_type: str):
    """A pycocotools COCO of the result JSON at ``path`` (a list of detections) on ``coco_gt``. Mask
    results drop their boxes, as mmdet's CocoMetric does: pycocotools would take a result with a
    box for a box, and its area from the box."""
    anns = _read_json(path)
    key = 'bbox' if iou_type == 'bbox' else 'segmentation'
    need = ('image_id', 'category_id', 'score', key)
    if not isinstance(anns, list) or not all(isinstance(a, dict) and all(k in a for k in need)
                                             for a in anns):
        raise ValueError(f'{path}: not a list of COCO {iou_type} results with keys '
                         f'{", ".join(need)}')
    if not anns:
        raise ValueError(f'{path}: no detections')
    _check_detections(anns, path, iou_type)
    unknown = {a['image_id'] for a in anns} - set(coco_gt.getImgIds())
    if unknown:
        raise ValueError(f'{path}: image ids not in the ground truth, e.g. {sorted(unknown)[:5]}')
    if iou_type == 'segm':
        anns = [{k: v for k, v in a.items() if k != 'bbox'} for a in anns]
    with contextlib.redirect_stdout(io.StringIO()):
        return coco_gt.loadRes(anns)


def evaluate_images(coco_gt, coco_dt, iou_type: str, max_dets: int = MAX_DETS,
                    image_ids: Optional[Sequence[int]] = None,
                    category_ids: Optional[Sequence[int]] = None):
    """COCOeval's per-image matching (area 'all' and one maxDets only: all stats[0] needs), over
    the given images and categories (all of the ground truth's by default; mmdet's CocoMetric
    evaluates its classes' categories)."""
    from pycocotools.cocoeval import COCOeval
    coco_eval = COCOeval(coco_gt, coco_dt, iou_type)
    coco_eval.params.areaRng, coco_eval.params.areaRngLbl = [AREA_ALL], ['all']
    coco_eval.params.maxDets = [max_dets]
    if image_ids is not None:
        coco_eval.params.imgIds = [int(i) for i in image_ids]
    if category_ids is not None:
        coco_eval.params.catIds = [int(c) for c in category_ids]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
    return coco_eval


def coco_ap_metric(coco_gt, coco_dt, iou_type: str = 'bbox') -> Metric:
    """AP in % (x100, as in the tables) of a resample, for results ``coco_dt``."""
    ap = CocoAP(evaluate_images(coco_gt, coco_dt, iou_type))
    return lambda counts: 100.0 * ap(counts)


def coco_ap_bootstrap(gt_json: str, result_a: str, result_b: str, iou_type: str = 'bbox',
                      resamples: int = 1000, seed: int = 0) -> Bootstrap:
    """Paired bootstrap of AP (%) of result files B against A over the ground truth's images."""
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f'iou_type: {iou_type!r}, expected bbox or segm')
    coco_gt = load_gt(gt_json)
    metrics: Dict[str, Metric] = {p: coco_ap_metric(coco_gt, load_results(coco_gt, p, iou_type),
                                                    iou_type) for p in (result_a, result_b)}
    return paired_bootstrap(metrics[result_a], metrics[result_b], len(coco_gt.getImgIds()),
                            resamples, seed)


def as_lines(result: Bootstrap) -> List[Tuple[str, str]]:
    """The printed ``key: value`` pairs of a COCO AP bootstrap."""
    return [('ap_a', f'{result.value_a:.4f}'), ('ap_b', f'{result.value_b:.4f}'),
            ('delta', f'{result.delta:.4f}'), ('ci_low', f'{result.ci_low:.4f}'),
            ('ci_high', f'{result.ci_high:.4f}'), ('p_le_0', f'{result.p_le_0:.4f}'),
            ('resamples', str(result.resamples))]


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
    key), and the sha256 of its bytes, read once for the box and mask entries of every run
    evaluated against it."""
    return load_gt(path), file_sha256(path)


def _coco_ap_of(record: Record) -> Metric:
    """COCO AP (fraction) of a record's detections, over its images and categories; an error
    naming the ground truth where it is missing, or not the one the run was evaluated against
    (its sha256 differs from the records'), and naming the detections where they are not the ones
    recorded."""
    entry, path = record.entry, record.entry['ann_file']
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file (the COCO ground truth the records were '
                                'evaluated against: moved or deleted?)')
    stat = os.stat(path)
    coco_gt, digest = _ground_truth(path, stat.st_size, stat.st_mtime_ns)
    if entry.get('ann_sha256', digest) != digest:
        raise ValueError(f'{path}: not the COCO ground truth the records were evaluated against '
                         '(its sha256 differs from the one they recorded: edited or replaced '
                         'since)')
    results = osp.join(record.folder, entry['results'])
    recorded = entry.get('results_sha256')
    if recorded and osp.isfile(results) and file_sha256(results) != recorded:
        raise ValueError(f'{results}: not the detections the records were written with (its '
                         'sha256 differs: an evaluation killed before its manifest?)')
    coco_dt = load_results(coco_gt, results, entry['iou_type'])
    return CocoAP(evaluate_images(coco_gt, coco_dt, entry['iou_type'], entry['max_dets'],
                                  record.keys, record.arrays['category_ids']))


#: a record's kind -> the metric of per-image counts that re-computes its logged value
_RECORD_METRICS: Dict[str, Callable[[Record], Metric]] = {
    'top1': lambda record: top1_from_counts(record.arrays[record.entry['array']]),
    'coco_ap': _coco_ap_of,
    'miou': lambda record: miou_from_counts(record.arrays['intersect'], record.arrays['union']),
    'mean': lambda record: mean_from_counts(record.arrays[record.entry['array']]),
}


def metric_of(record: Record) -> Metric:
    """The metric of per-image counts (one per key) that re-computes a record's logged value, in
    the logged units."""
    return _RECORD_METRICS[record.entry['kind']](record)
