"""The paired bootstrap's cost on a COCO-sized evaluation (``tools/benchmark_significance.py``).

Fabricated ground truth (a few boxes per image over up to 80 categories) and two result sets, B's
boxes closer to the ground truth than A's: pycocotools' per-image matching is timed once per
method, then the resamples of ``suite.significance.paired_bootstrap`` on ``CocoAP``, and beside
them one full ``COCOeval`` (evaluate, accumulate, summarize) of A on the same data, what a
bootstrap that re-ran COCOeval would pay per resample and method.
"""
import contextlib
import io
import time
from typing import Dict, List, Tuple

import numpy as np

from suite.significance import as_lines, coco_ap_metric, coco_gt_of, paired_bootstrap

SIDE = 640  # image side, COCO's typical long side
#: box jitter (share of its size) of the two methods' detections: B is slightly better
JITTER = dict(a=0.06, b=0.057)


def fabricate(num_images: int, num_categories: int = 80,
              seed: int = 0) -> Tuple[dict, List[dict], List[dict]]:
    """(ground truth, results A, results B): 1 to 7 boxes an image; each box detected 0 to 2 times
    by both methods with the same scores and the methods' own jitter, plus false positives."""
    rng = np.random.default_rng(seed)
    images = [{'id': i + 1, 'width': SIDE, 'height': SIDE} for i in range(num_images)]
    anns, dets = [], dict(a=[], b=[])
    for image in images:
        for _ in range(rng.integers(1, 8)):
            box, category = _box(rng), int(rng.integers(1, num_categories + 1))
            anns.append({'id': len(anns) + 1, 'image_id': image['id'], 'category_id': category,
                         'bbox': box, 'area': box[2] * box[3], 'iscrowd': 0})
            for _ in range(rng.integers(0, 3)):
                score = float(rng.random())
                for method, jitter in JITTER.items():
                    dets[method].append({'image_id': image['id'], 'category_id': category,
                                         'bbox': _jitter(rng, box, jitter), 'score': score})
        for _ in range(rng.integers(0, 3)):  # the same false positives for both
            category = int(rng.integers(1, num_categories + 1))
            false = {'image_id': image['id'], 'category_id': category, 'bbox': _box(rng),
                     'score': float(rng.random() * 0.7)}
            for method in JITTER:
                dets[method].append(dict(false))
    gt = {'images': images, 'annotations': anns,
          'categories': [{'id': k, 'name': f'c{k}'} for k in range(1, num_categories + 1)]}
    return gt, dets['a'], dets['b']


def _box(rng: np.random.Generator) -> List[float]:
    """A box of side 8 to 300 pixels (log-uniform) inside the image."""
    w, h = np.exp(rng.uniform(np.log(8), np.log(300), 2))
    return [float(rng.uniform(0, SIDE - w)), float(rng.uniform(0, SIDE - h)), float(w), float(h)]


def _jitter(rng: np.random.Generator, box: List[float], scale: float) -> List[float]:
    """``box`` moved and resized by a normal share ``scale`` of its size."""
    x, y, w, h = box
    dx, dy, dw, dh = rng.normal(0, scale, 4)
    return [x + dx * w, y + dy * h, max(1.0, w * (1 + dw)), max(1.0, h * (1 + dh))]


def _timed(fn, *args):
    """(fn(*args), seconds), pycocotools' printing silenced."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        out = fn(*args)
    return out, time.perf_counter() - start


def _full_cocoeval(coco_gt, coco_dt) -> float:
    """stats[0] of a standard COCOeval (every area range and maxDets): evaluate, accumulate,
    summarize."""
    from pycocotools.cocoeval import COCOeval
    coco_eval = COCOeval(coco_gt, coco_dt, 'bbox')
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return float(coco_eval.stats[0])


def benchmark_significance(num_images: int = 5000, resamples: int = 1000,
                           num_categories: int = 80, seed: int = 0) -> Dict[str, str]:
    """The timings and the bootstrap's result, as the printed ``key: value`` pairs."""
    gt, dets_a, dets_b = fabricate(num_images, num_categories, seed)
    coco_gt = coco_gt_of(gt, 'the fabricated ground truth')
    with contextlib.redirect_stdout(io.StringIO()):
        coco_a, coco_b = coco_gt.loadRes(dets_a), coco_gt.loadRes(dets_b)
    (metric_a, metric_b), matching = _timed(
        lambda: [coco_ap_metric(coco_gt, c) for c in (coco_a, coco_b)])
    result, bootstrap = _timed(paired_bootstrap, metric_a, metric_b, num_images, resamples, seed)
    cocoeval_ap, cocoeval = _timed(_full_cocoeval, coco_gt, coco_a)
    return dict(
        images=str(num_images), categories=str(num_categories), boxes=str(len(gt['annotations'])),
        detections_per_method=str(len(dets_a)), matching_seconds=f'{matching:.2f}',
        bootstrap_seconds=f'{bootstrap:.2f}', seconds_per_resample=f'{bootstrap / resamples:.4f}',
        **dict(as_lines(result)), cocoeval_ap_a=f'{100 * cocoeval_ap:.4f}',
        cocoeval_seconds=f'{cocoeval:.2f}',
        cocoeval_runs_over_bootstrap=f'{resamples * cocoeval / bootstrap:.1f}')
