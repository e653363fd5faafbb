"""suite/significance.py: the paired bootstrap, and its re-accumulation of COCO AP against
pycocotools' own COCOeval (full set, physically duplicated sets, resamples)."""
import contextlib
import copy
import io
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from suite.significance import (CocoAP, coco_ap_bootstrap, evaluate_images, load_gt, load_results,
                                paired_bootstrap, resample_counts, top1_from_counts)

from tests.helpers import ROOT
SIZE = 160  # image side
JITTER = 0.08  # of detections around their ground truth


def _box(rng: np.random.Generator) -> list:
    """A box of a random scale: small (< 32^2), medium or large (> 96^2) areas all occur."""
    w, h = np.exp(rng.uniform(np.log(6), np.log(120), 2))
    x, y = rng.uniform(0, SIZE - w), rng.uniform(0, SIZE - h)
    return [float(x), float(y), float(w), float(h)]


def _jitter(rng: np.random.Generator, box: list, scale: float) -> list:
    """``box`` moved and resized by up to ``scale`` of its size."""
    x, y, w, h = box
    dx, dy, dw, dh = rng.normal(0, scale, 4)
    return [x + dx * w, y + dy * h, max(1.0, w * (1 + dw)), max(1.0, h * (1 + dh))]


def _mask_rle(box: list) -> dict:
    """An ellipse inscribed in ``box`` as compressed RLE with str counts (as in JSON)."""
    from pycocotools import mask as mask_utils
    x, y, w, h = box
    yy, xx = np.mgrid[:SIZE, :SIZE] + 0.5
    m = ((xx - x - w / 2) / max(w / 2, 0.5)) ** 2 + ((yy - y - h / 2) / max(h / 2, 0.5)) ** 2 <= 1
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def make_coco(num_images: int = 100, seed: int = 0, segm: bool = False):
    """Fabricated ground truth (3 categories, some crowd) and jittered detections with scores."""
    rng = np.random.default_rng(seed)
    images = [{'id': i + 1, 'width': SIZE, 'height': SIZE, 'file_name': f'{i}.jpg'}
              for i in range(num_images)]
    anns, dets = [], []
    for img in images:
        for _ in range(rng.integers(0, 6)):
            box, cat = _box(rng), int(rng.integers(1, 4))
            ann = {'id': len(anns) + 1, 'image_id': img['id'], 'category_id': cat, 'bbox': box,
                   'area': box[2] * box[3], 'iscrowd': int(rng.random() < 0.1)}
            anns.append(ann)
            for _ in range(rng.integers(0, 3)):  # none, one or a duplicate detection
                dets.append({'image_id': img['id'], 'category_id': cat,
                             'bbox': _jitter(rng, box, JITTER), 'score': float(rng.random())})
        for _ in range(rng.integers(0, 3)):  # false positives
            dets.append({'image_id': img['id'], 'category_id': int(rng.integers(1, 4)),
                         'bbox': _box(rng), 'score': float(rng.random() * 0.7)})
    if segm:
        from pycocotools import mask as mask_utils
        for a in anns + dets:
            a['segmentation'] = _mask_rle(a['bbox'])
        for a in anns:
            a['area'] = float(mask_utils.area(a['segmentation']))
        for d in dets:
            del d['bbox']  # else loadRes would take the results for boxes
    gt = {'images': images, 'annotations': anns,
          'categories': [{'id': k, 'name': f'c{k}'} for k in (1, 2, 3)]}
    return gt, dets


def drop_images(dets: list, every: int = 10) -> list:
    """The detections without those of every ``every``-th image: a worse method B."""
    return [d for d in dets if d['image_id'] % every != 1]


def coco_stats0(gt: dict, dets: list, iou_type: str = 'bbox') -> float:
    """pycocotools' own AP (stats[0]) of ``dets``, the reference."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def duplicate(gt: dict, dets: list, counts: np.ndarray):
    """The images repeated as often as ``counts`` says (sorted ids), with new ids and copies of
    their annotations and detections."""
    images, anns, out = [], [], []
    by_image = {}
    for d in dets:
        by_image.setdefault(d['image_id'], []).append(d)
    gt_by_image = {}
    for a in gt['annotations']:
        gt_by_image.setdefault(a['image_id'], []).append(a)
    for img, count in zip(sorted(gt['images'], key=lambda i: i['id']), counts):
        for _ in range(int(count)):
            new = len(images) + 1
            images.append(dict(img, id=new))
            anns += [dict(a, id=len(anns) + 1 + k, image_id=new)
                     for k, a in enumerate(gt_by_image.get(img['id'], []))]
            out += [dict(d, image_id=new) for d in by_image.get(img['id'], [])]
    return dict(gt, images=images, annotations=anns), out


def ap_metric(gt: dict, dets: list, iou_type: str = 'bbox') -> CocoAP:
    """The re-accumulating AP (fraction) of ``dets``, from files written nowhere."""
    with contextlib.redirect_stdout(io.StringIO()):
        from pycocotools.coco import COCO
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        return CocoAP(evaluate_images(coco, coco.loadRes(copy.deepcopy(dets)), iou_type))


@pytest.fixture(scope='module')
def coco():
    return make_coco()


def test_identity_reproduces_cocoeval_bbox(coco):
    gt, dets = coco
    ap = ap_metric(gt, dets)
    assert abs(ap(np.ones(len(gt['images']))) - coco_stats0(gt, dets)) < 1e-12
    worse = drop_images(dets)
    assert abs(ap_metric(gt, worse)(np.ones(100)) - coco_stats0(gt, worse)) < 1e-12


def test_identity_reproduces_cocoeval_segm():
    gt, dets = make_coco(num_images=40, seed=1, segm=True)
    ap = ap_metric(gt, dets, 'segm')
    assert abs(ap(np.ones(40)) - coco_stats0(gt, dets, 'segm')) < 1e-12


def test_ties_in_score_follow_cocoeval(coco):
    # scores rounded to one decimal: many ties across and within images, ordered as COCOeval does
    gt, dets = coco
    tied = [dict(d, score=round(d['score'], 1)) for d in dets]
    assert abs(ap_metric(gt, tied)(np.ones(100)) - coco_stats0(gt, tied)) < 1e-12


def test_resample_equals_cocoeval_on_duplicated_images(coco):
    gt, dets = coco
    ap = ap_metric(gt, dets)
    for counts in resample_counts(100, 3, seed=5):
        assert counts.max() > 1 and (counts == 0).any()
        assert abs(ap(counts) - coco_stats0(*duplicate(gt, dets, counts))) < 1e-12


def test_identical_results_give_zero_interval(coco):
    gt, dets = coco
    ap = ap_metric(gt, dets)
    r = paired_bootstrap(ap, ap, 100, resamples=200, seed=0)
    assert r.delta == 0 and r.ci_low == 0 and r.ci_high == 0 and r.p_le_0 == 1
    assert r.resamples == 200


@pytest.mark.slow
def test_worse_method_against_cocoeval_resamples(coco):
    gt, dets = coco
    worse = drop_images(dets)
    ap_a, ap_b = ap_metric(gt, dets), ap_metric(gt, worse)
    r = paired_bootstrap(ap_a, ap_b, 100, resamples=1000, seed=0)
    assert r.delta < 0 and r.ci_high < 0 and r.p_le_0 > 0.97
    # the slow reference: COCOeval on 30 physically drawn resamples, same draws for both
    reference = []
    for counts in resample_counts(100, 30, seed=1):
        ref_a = coco_stats0(*duplicate(gt, dets, counts))
        ref_b = coco_stats0(*duplicate(gt, worse, counts))
        assert abs(ap_a(counts) - ref_a) < 1e-12 and abs(ap_b(counts) - ref_b) < 1e-12
        reference.append(ref_b - ref_a)
    boot = np.array([ap_b(c) - ap_a(c) for c in resample_counts(100, 1000, seed=0)])
    # the mean and spread of 30 draws agree with 1000 within their Monte Carlo error
    assert abs(np.mean(reference) - boot.mean()) < 4 * boot.std() / np.sqrt(30)
    assert 0.5 < np.std(reference) / boot.std() < 1.6
    assert r.ci_low <= np.median(reference) <= r.ci_high


def test_top1_from_counts():
    rng = np.random.default_rng(0)
    correct = rng.random(50) < 0.7
    metric = top1_from_counts(correct)
    assert metric(np.ones(50)) == pytest.approx(100 * correct.mean())
    for counts in resample_counts(50, 5, seed=2):
        drawn = np.repeat(np.arange(50), counts)
        assert metric(counts) == pytest.approx(100 * correct[drawn].mean(), abs=1e-12)
    r = paired_bootstrap(metric, top1_from_counts(np.ones(50)), 50, resamples=300, seed=0)
    assert r.delta == pytest.approx(100 * (1 - correct.mean()))
    assert 0 < r.ci_low < r.delta < r.ci_high and r.p_le_0 == 0


def _write(tmp_path, gt, dets, worse):
    paths = [str(tmp_path / n) for n in ('gt.json', 'a.bbox.json', 'b.bbox.json')]
    for path, data in zip(paths, (gt, dets, worse)):
        with open(path, 'w') as f:
            json.dump(data, f)
    return paths


def test_coco_ap_bootstrap_files(tmp_path, coco):
    gt, dets = coco
    gt_path, a, b = _write(tmp_path, gt, dets, drop_images(dets))
    r = coco_ap_bootstrap(gt_path, a, b, resamples=100, seed=0)
    assert r.value_a == pytest.approx(100 * coco_stats0(gt, dets), abs=1e-10)
    assert r.delta < 0


def test_bad_files_are_named(tmp_path, coco):
    gt, dets = coco
    gt_path, a, _ = _write(tmp_path, gt, dets, dets)
    with pytest.raises(FileNotFoundError, match='nope.json'):
        coco_ap_bootstrap(gt_path, a, str(tmp_path / 'nope.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('[{"image_id": 1')
    with pytest.raises(ValueError, match='bad.json'):
        coco_ap_bootstrap(gt_path, a, str(bad))
    bad.write_text('[{"image_id": 1, "category_id": 1, "score": 0.5}]')
    with pytest.raises(ValueError, match='bad.json.*bbox'):
        load_results(load_gt(gt_path), str(bad), 'bbox')
    with pytest.raises(ValueError, match='bad.json.*images'):
        load_gt(str(bad))


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    """tools/significance.py in a subprocess, this checkout's suite/ first on its path."""
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'significance.py'), *args],
                          cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))


@pytest.mark.slow
def test_cli_prints_keys(tmp_path, coco):
    gt, dets = coco
    gt_path, a, b = _write(tmp_path, gt, dets, drop_images(dets))
    proc = _run_cli('--gt', gt_path, a, b, '--resamples', '50')
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(': ')[0] for line in lines] == \
        ['ap_a', 'ap_b', 'delta', 'ci_low', 'ci_high', 'p_le_0', 'resamples']
    values = dict(line.split(': ') for line in lines)
    assert float(values['delta']) < 0 and values['resamples'] == '50'
    proc = _run_cli('--gt', gt_path, a, str(tmp_path / 'missing.json'))
    assert proc.returncode != 0 and 'missing.json' in proc.stderr


def _exact_deltas(side_a, side_b, num_images, resample_seeds=True):
    """Every equally likely outcome of one resample, enumerated: the images drawn in sequence and,
    per side, its seeds drawn with replacement (or, without ``resample_seeds``, all of them)."""
    import itertools
    draws = lambda k: (itertools.product(range(k), repeat=k) if resample_seeds  # noqa: E731
                       else [tuple(range(k))])
    deltas = []
    for images in itertools.product(range(num_images), repeat=num_images):
        counts = np.bincount(images, minlength=num_images)
        values = [[m(counts) for m in side] for side in (side_a, side_b)]
        means = [[np.mean([v[i] for i in drawn]) for drawn in draws(len(v))] for v in values]
        deltas += [b - a for a in means[0] for b in means[1]]
    return np.array(deltas)


def test_several_seeds_against_the_enumerated_bootstrap():
    # 4 images, two seeds a side: 4^4 image draws x 2^2 x 2^2 seed draws, all equally likely
    side_a = [top1_from_counts(c) for c in ([1, 1, 1, 0], [0, 0, 0, 1])]
    side_b = [top1_from_counts(c) for c in ([1, 1, 1, 0], [0, 1, 1, 0])]
    exact = _exact_deltas(side_a, side_b, 4)
    # the seeds' own luck matters here: without drawing them the distribution differs
    assert abs(np.mean(exact <= 0) - np.mean(_exact_deltas(side_a, side_b, 4, False) <= 0)) > 0.05
    for shift in (0.0, 6.0, 19.0):  # thresholds at 0 and between the deltas' atoms (12.5 apart)
        shifted = [lambda c, m=m, shift=shift: m(c) + shift for m in side_b]
        r = paired_bootstrap(side_a, shifted, 4, resamples=20000, seed=3)
        reference = np.mean(exact + shift <= 0)
        assert abs(r.p_le_0 - reference) < 4 * np.sqrt(reference * (1 - reference) / 20000) + 1e-3
    r = paired_bootstrap(side_a, side_b, 4, resamples=20000, seed=3)
    assert (r.value_a, r.value_b, r.delta) == (50.0, 62.5, 12.5)  # means over the seeds
    low, high = np.percentile(exact, [2.5, 97.5])  # each inside an atom (-50: 0.7% to 4.0%, ...)
    assert (r.ci_low, r.ci_high) == (low, high) == (-50.0, 100.0)


def test_one_metric_a_side_is_the_plain_paired_bootstrap():
    rng = np.random.default_rng(1)
    a, b = (top1_from_counts(rng.random(30) < p) for p in (0.5, 0.6))
    deltas = np.array([b(c) - a(c) for c in resample_counts(30, 200, seed=4)])
    for r in (paired_bootstrap(a, b, 30, 200, 4), paired_bootstrap([a], [b], 30, 200, 4)):
        assert (r.ci_low, r.ci_high) == tuple(np.percentile(deltas, [2.5, 97.5]))
        assert r.p_le_0 == np.mean(deltas <= 0)
    with pytest.raises(ValueError, match='at least one metric'):
        paired_bootstrap([], [b], 30)
