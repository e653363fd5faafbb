"""tools/significance.py and suite.significance refuse what they cannot measure, naming it; the
leaderboard's Markdown keeps its columns whatever a label holds."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest

from suite import leaderboard
from suite.significance import load_gt, load_results, paired_bootstrap, top1_from_counts
from tests.helpers import ROOT
from tests.suite.test_pairing import coco_gt


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def detections(score=0.9, bbox=(8, 8, 20, 20)):
    return [dict(image_id=i, category_id=1, bbox=list(bbox), score=score) for i in (1, 2, 3)]


def run_cli(*args):
    """tools/significance.py in a subprocess, this checkout first on its path."""
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'significance.py'), *args],
                          cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))


@pytest.mark.slow
def test_cli_refuses_zero_resamples(tmp_path):
    gt = write(tmp_path / 'gt.json', coco_gt())
    a = write(tmp_path / 'a.json', detections())
    proc = run_cli('--gt', gt, a, a, '--resamples', '0')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert 'argument --resamples: must be at least 1, got 0' in proc.stderr


@pytest.mark.slow
def test_cli_refuses_a_three_number_bbox_naming_the_file_and_the_entry(tmp_path):
    gt = write(tmp_path / 'gt.json', coco_gt())
    a = write(tmp_path / 'a.json', detections())
    bad = detections()
    bad[1]['bbox'] = [8, 8, 20]
    b = write(tmp_path / 'b.json', bad)
    proc = run_cli('--gt', gt, a, b)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert f'{b}: entry 1 has bbox [8, 8, 20]: a bbox is 4 numbers x, y, w, h' in proc.stderr


def test_bootstrap_refuses_zero_resamples():
    with pytest.raises(ValueError, match='resamples must be at least 1'):
        paired_bootstrap(top1_from_counts([1, 0]), top1_from_counts([0, 1]), 2, resamples=0)


@pytest.mark.parametrize('score', [math.nan, math.inf, 'high'])
def test_results_with_scores_that_are_not_finite_numbers_are_refused(tmp_path, score):
    gt = load_gt(write(tmp_path / 'gt.json', coco_gt()))
    dets = detections()
    dets[0]['score'] = dets[2]['score'] = score
    path = write(tmp_path / 'a.json', dets)
    with pytest.raises(ValueError, match=f'{path}: 2 of 3 entries have a score that is not a '
                                         'finite number'):
        load_results(gt, path, 'bbox')


def test_markdown_escapes_pipes_in_every_cell_and_header():
    text = leaderboard.markdown(['size', 'a|b'], [['ViT|S', 'x'], ['y', 'p | q']])
    assert text.splitlines() == ['| size | a\\|b |', '|---|---|', '| ViT\\|S | x |',
                                 '| y | p \\| q |']
