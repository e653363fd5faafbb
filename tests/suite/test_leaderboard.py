"""The leaderboard (suite.leaderboard, tools/leaderboard.py) on fabricated work dirs in mmengine's
layout."""
import csv
import json
import re

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from tests.helpers import run_tool

from engine.records import RECORDS, write_top1
from suite import leaderboard, methods, results
from suite.significance import paired_bootstrap, top1_from_counts

#: what the transfer configs of each task declare they report
REPORTS = {
    'coco': dict(task='COCO', metrics={'coco/bbox_mAP': ('AP box', 100),
                                       'coco/segm_mAP': ('AP mask', 100)}),
    'ade': dict(task='ADE20K', metrics={'mIoU': ('mIoU', 1)}, input_size=(32, 48)),
    'count': dict(task='CLEVR Count', selection='best val epoch',
                  metrics={'clevr_count/top1_avg': ('top-1 avg', 1),
                           'clevr_count/top1_cls': ('top-1 cls', 1),
                           'clevr_count/top1_concat4': ('top-1 concat4', 1)})}


def fake_run(work_dir, stamp, method, task, seed=0, val=(), test=(), arch='b', protocol=None,
             **backbone):
    """A run folder as mmengine writes it: the config, the scalars and, for a test, its json.
    ``backbone`` adds to (or replaces) the backbone's settings: ``patch_size``, ``init_cfg``."""
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    config = dict(pretrain_method=method, randomness=dict(seed=seed),
                  model=dict(backbone=dict(dict(type='JEPAViT', arch=arch, patch_size=16),
                                           **backbone)),
                  report=dict(REPORTS[task], protocol=protocol))
    Config(config).dump(str(run / 'vis_data' / 'config.py'))
    with open(run / 'vis_data' / 'scalars.json', 'w') as f:
        for i, row in enumerate([dict(loss=1.0, step=1)] + list(val)):
            f.write(json.dumps(dict(row, step=i + 1)) + '\n')
    if test:
        with open(run / f'{stamp}.json', 'w') as f:
            f.write(json.dumps(dict(test)) + '\n')
    return str(work_dir)


@pytest.fixture
def work_dirs(tmp_path):
    dirs = []
    for seed, (box, mask) in enumerate([(0.400, 0.350), (0.420, 0.360)]):
        dirs.append(fake_run(tmp_path / f'coco_ijepa_s{seed}', '20260101_000000', 'ijepa', 'coco',
                             seed=seed, val=[{'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.1},
                                             {'coco/bbox_mAP': box, 'coco/segm_mAP': mask}]))
    dirs.append(fake_run(tmp_path / 'coco_dseq', '20260101_000000', 'dseq', 'coco',
                         val=[{'coco/bbox_mAP': 0.455, 'coco/segm_mAP': 0.401}]))
    dirs.append(fake_run(tmp_path / 'ade_dseq', '20260101_000000', 'dseq', 'ade',
                         val=[{'mIoU': 31.25, 'aAcc': 80.0}]))
    # CLEVR: the training run validates, a later tools/test.py run of the same work dir tests
    count_dseq = tmp_path / 'count_dseq'
    fake_run(count_dseq, '20260101_000000', 'dseq', 'count',
             val=[{'clevr_count/top1_cls': 50.0, 'clevr_count/top1_avg': 52.0}])
    fake_run(count_dseq, '20260101_010000', 'dseq', 'count',
             test={'clevr_count/top1_cls': 61.5, 'clevr_count/top1_avg': 63.0})
    dirs.append(str(count_dseq))
    dirs.append(fake_run(tmp_path / 'count_ijepa', '20260101_000000', 'ijepa', 'count',
                         test={'clevr_count/top1_avg': 58.0}))
    dirs.append(fake_run(tmp_path / 'count_random', '20260101_000000', 'random', 'count',
                         test={'clevr_count/top1_avg': 40.0, 'clevr_count/top1_concat4': 45.0}))
    return dirs


def table_rows(work_dirs):
    found = results.collect(work_dirs)
    header, body = leaderboard.rows(found.table, found.records, found.selections)
    return {(r[1], r[2]): dict(zip(header, r)) for r in body}


def test_cells_seeds_differences_and_published_columns(work_dirs):
    rows = table_rows(work_dirs)
    box = rows[('COCO', 'AP box')]
    assert box['size'] == 'ViT-B/16'
    assert box['I-JEPA'] == '41.0 +- 1.4 (n=2)'  # the last validation of each seed
    assert box['DSeq-JEPA'] == '45.5' and box['DSeq - I-JEPA'] == '+4.5 [missing]'  # no records
    assert box['published I-JEPA'] == '49.9 (ViT-B/16, C-JEPA paper)'
    assert box['published DSeq-JEPA'] == '50.5 (ViT-B/16, DSeq-JEPA project page)'
    # only the methods with runs have columns: no MAE, DINOv2 or DeiT III here
    assert not any(label in column for column in box for label in ('MAE', 'DINOv2', 'DeiT'))
    mask = rows[('COCO', 'AP mask')]
    assert mask['I-JEPA'] == '35.5 +- 0.7 (n=2)' and mask['published DSeq-JEPA'] == 'missing'
    ade = rows[('ADE20K', 'mIoU')]
    assert (ade['I-JEPA'], ade['DSeq-JEPA'], ade['DSeq - I-JEPA']) == ('missing', '31.2', 'missing')
    assert ade['published I-JEPA'].startswith('47.6') and ade['random init'] == '-'
    avg = rows[('CLEVR Count', 'top-1 avg')]
    assert (avg['I-JEPA'], avg['DSeq-JEPA'], avg['random init']) == ('58.0', '63.0', '40.0')
    # measured at another width only (ViT-H/14): not this row's number
    assert avg['published I-JEPA'] == 'missing'
    cls = rows[('CLEVR Count', 'top-1 cls')]  # I-JEPA has no CLS token: missing, not filled in
    assert (cls['I-JEPA'], cls['DSeq-JEPA'], cls['DSeq - I-JEPA']) == ('missing', '61.5', 'missing')
    assert ('CLEVR Dist', 'top-1 avg') not in rows
    # each row names its model selection where its configs state one
    assert ((avg['checkpoint: how chosen'], box['checkpoint: how chosen'])
            == ('best val epoch', 'missing'))
    verdicts = leaderboard.against_random(results.collect(work_dirs).table)
    assert verdicts == [
        'ViT-B/16 CLEVR Count top-1 avg: I-JEPA beats random init (58.0 vs 40.0, +18.0, interval '
        'missing)',
        'ViT-B/16 CLEVR Count top-1 avg: DSeq-JEPA beats random init (63.0 vs 40.0, +23.0, '
        'interval missing)']
    concat = rows[('CLEVR Count', 'top-1 concat4')]  # only the random encoder was read this way
    assert (concat['I-JEPA'], concat['DSeq-JEPA'], concat['random init']) == \
        ('missing', 'missing', '45.0')


def test_sizes_stay_apart(tmp_path, work_dirs):
    large = fake_run(tmp_path / 'coco_ijepa_large', '20260102_000000', 'ijepa', 'coco', arch='l',
                     val=[{'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.4}])
    header, body = leaderboard.rows(results.collect(work_dirs + [large]).table)
    cells = {(r[0], r[1], r[2]): r[3] for r in body}
    assert cells[('ViT-B/16', 'COCO', 'AP box')] == '41.0 +- 1.4 (n=2)'
    assert cells[('ViT-L/16', 'COCO', 'AP box')] == '50.0'


def test_two_work_dirs_of_one_seed_are_refused_naming_both(tmp_path, work_dirs):
    again = fake_run(tmp_path / 'coco_ijepa_s1_again', '20260102_000000', 'ijepa', 'coco', seed=1,
                     val=[{'coco/bbox_mAP': 0.440, 'coco/segm_mAP': 0.370}])
    first = work_dirs[1]  # coco_ijepa_s1
    for order in ([first, again], [again, first]):  # neither order may pick a winner
        with pytest.raises(ValueError) as error:
            results.collect(order)
        message = str(error.value)
        assert f'{order[0]} and {order[1]} are both I-JEPA ViT-B/16 COCO with seed 1' in message
        assert 'randomness.seed' in message and 'pass only one' in message
    results.collect([first, first])  # the same work dir twice is one run


def cut_last_line(path, keep=-12):
    """What a run killed while writing ``path`` leaves: its last line cut in the middle."""
    text = path.read_text().rstrip('\n')
    path.write_text(text[:keep])


def test_a_cut_off_last_line_is_skipped_with_a_warning_naming_the_file(tmp_path):
    run_dir = fake_run(tmp_path / 'coco_dseq', '20260101_000000', 'dseq', 'coco',
                       val=[{'coco/bbox_mAP': 0.300, 'coco/segm_mAP': 0.250},
                            {'coco/bbox_mAP': 0.455, 'coco/segm_mAP': 0.401}])
    scalars = tmp_path / 'coco_dseq' / '20260101_000000' / 'vis_data' / 'scalars.json'
    cut_last_line(scalars)
    with pytest.warns(UserWarning, match=re.escape(f'{scalars}, line 3 is cut off')):
        _, metrics = results.result_of(run_dir)
    assert metrics == pytest.approx({'AP box': 30.0, 'AP mask': 25.0})  # the last whole line

    tested = fake_run(tmp_path / 'count_dseq', '20260101_000000', 'dseq', 'count',
                      val=[{'clevr_count/top1_avg': 52.0}], test={'clevr_count/top1_avg': 63.0})
    test_json = tmp_path / 'count_dseq' / '20260101_000000' / '20260101_000000.json'
    cut_last_line(test_json)
    with pytest.warns(UserWarning, match=re.escape(f'{test_json}, line 1 is cut off')):
        assert results.result_of(tested)[1] == {'top-1 avg': 52.0}  # back to validation


def test_a_bad_line_before_the_last_is_an_error_naming_file_and_line(tmp_path):
    run_dir = fake_run(tmp_path / 'coco_dseq', '20260101_000000', 'dseq', 'coco',
                       val=[{'coco/bbox_mAP': 0.300, 'coco/segm_mAP': 0.250},
                            {'coco/bbox_mAP': 0.455, 'coco/segm_mAP': 0.401}])
    scalars = tmp_path / 'coco_dseq' / '20260101_000000' / 'vis_data' / 'scalars.json'
    lines = scalars.read_text().splitlines(keepends=True)
    scalars.write_text(''.join(lines[:1] + [lines[1][:10] + '\n'] + lines[2:]))
    with pytest.raises(ValueError, match=re.escape(f'{scalars}, line 2 is not JSON')):
        results.collect([run_dir])


def test_files_written_and_errors(tmp_path, work_dirs):
    out = tmp_path / 'board'
    text = run_tool('leaderboard.py', *work_dirs, '--out', str(out), env=None)
    assert '| ViT-B/16 | COCO | AP box | 41.0 +- 1.4 (n=2) | 45.5 | +4.5 [missing] |' in text
    with open(out / 'leaderboard.csv') as f:
        body = list(csv.reader(f))
    assert body[0][:5] == ['size', 'task', 'metric', 'I-JEPA', 'DSeq-JEPA']
    # the header, the size's encoder row (these runs name no checkpoint), every row of the table
    assert len(body) == 2 + len(table_rows(work_dirs))
    assert body[1] == ['ViT-B/16', 'encoder', 'file (sha256)', 'none (random init)',
                       'none (random init)', '', 'none (random init)', '', '', '']
    assert (out / 'leaderboard.md').read_text() in text
    assert ('- ViT-B/16 CLEVR Count top-1 avg: I-JEPA beats random init (58.0 vs 40.0, +18.0, '
            'interval missing)') in text
    assert ('- ViT-B/16 CLEVR Count top-1 avg: DSeq-JEPA beats random init (63.0 vs 40.0, +23.0, '
            'interval missing)') in text
    shown = (out / 'leaderboard.html').read_text()
    assert '<td>63.0</td>' in shown and '<td>file (sha256)</td>' in shown
    with Image.open(out / 'leaderboard.png') as im:
        assert im.format == 'PNG' and im.size[0] >= 600

    bare = tmp_path / 'unnamed'
    fake_run(bare, '20260101_000000', None, 'coco', val=[{'coco/bbox_mAP': 0.1}])
    with pytest.raises(KeyError, match='pretrain_method'):
        results.collect([str(bare)])
    with pytest.raises(FileNotFoundError, match='holds no run'):
        results.collect([str(tmp_path / 'board')])


def test_a_method_below_random_is_said_so():
    table = {('ViT-S/16', 'CLEVR Count', 'top-1 avg'): {'ijepa': [30.0, 34.0], 'dseq': [31.0],
                                                       'random': [32.5]}}
    assert leaderboard.against_random(table) == [
        'ViT-S/16 CLEVR Count top-1 avg: I-JEPA does NOT beat random init (32.0 vs 32.5, -0.5, '
        'interval missing)',
        'ViT-S/16 CLEVR Count top-1 avg: DSeq-JEPA does NOT beat random init (31.0 vs 32.5, -1.5, '
        'interval missing)']


def recorded_run(work_dir, method, correct, seed=0, labels=None, value=None):
    """A CLEVR Count run tested on ``len(correct)`` images, its top-1 avg recorded per image as
    ProbeAccuracy records it: each image's correctness, paired by its file name and label. The log
    holds the top-1 of ``correct``, or ``value``."""
    correct = np.asarray(correct, dtype=bool)
    labels = np.arange(len(correct)) % 8 if labels is None else labels
    logged = 100.0 * correct.mean() if value is None else value
    fake_run(work_dir, STAMP, method, 'count', seed=seed, test={AVG: logged})
    write_top1(str(work_dir / STAMP / RECORDS), 'clevr_count', labels,
               {AVG: correct}, {AVG: 100.0 * correct.mean()},
               images=[f'CLEVR_val_{i:06d}.png#{int(y)}' for i, y in enumerate(labels)])
    return str(work_dir)


STAMP = '20260101_000000'
AVG = 'clevr_count/top1_avg'
AVG_ROW = ('ViT-B/16', 'CLEVR Count', 'top-1 avg')


def with_k_right(rng, n, k):
    """Correctness of ``n`` images, ``k`` of them right, at random places."""
    return rng.permutation(np.arange(n) < k)


def reference(a, b):
    """The leaderboard's bootstrap of top-1 B - A, straight from the per-image correctness (one
    array, or a list of them one per seed, a side)."""
    def side(correct):
        return ([top1_from_counts(c) for c in correct] if isinstance(correct, list)
                else top1_from_counts(correct))
    return paired_bootstrap(side(a), side(b), len(a[0] if isinstance(a, list) else a),
                            leaderboard.RESAMPLES, leaderboard.SEED)


def avg_row(found):
    header, body = leaderboard.rows(found.table, found.records)
    (row,) = [dict(zip(header, r)) for r in body if tuple(r[:3]) == AVG_ROW]
    return row


def test_identical_records_give_a_zero_interval_within_noise(tmp_path):
    correct = with_k_right(np.random.default_rng(0), 50, 31)
    found = results.collect([recorded_run(tmp_path / m, m, correct)
                             for m in ('ijepa', 'dseq', 'random')])
    assert avg_row(found)['DSeq - I-JEPA'] == '+0.0 [+0.0, +0.0] within noise'
    assert leaderboard.against_random(found.table, found.records)[0] == (
        'ViT-B/16 CLEVR Count top-1 avg: I-JEPA does NOT beat random init (62.0 vs 62.0, +0.0 '
        '[+0.0, +0.0], 100.0% of resamples <= 0)')


def test_a_clearly_better_method_has_an_interval_above_zero(tmp_path):
    rng = np.random.default_rng(1)
    worse = with_k_right(rng, 400, 200)
    better = worse | with_k_right(rng, 400, 200)  # right wherever the worse one is, and more
    found = results.collect([recorded_run(tmp_path / 'ijepa', 'ijepa', worse),
                             recorded_run(tmp_path / 'dseq', 'dseq', better)])
    r = reference(worse, better)
    assert r.ci_low > 5
    assert avg_row(found)['DSeq - I-JEPA'] == \
        f'{100 * (better.mean() - worse.mean()):+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}] better'


def test_a_gain_within_the_test_sets_noise_is_not_a_win(tmp_path):
    # 1000 test images, each method right on its own images: the gains' spread is about 2.2 points
    rng = np.random.default_rng(2)
    correct = {m: with_k_right(rng, 1000, k) for m, k in (('ijepa', 500), ('dseq', 440),
                                                         ('random', 432))}
    found = results.collect([recorded_run(tmp_path / m, m, c) for m, c in correct.items()])
    ijepa, dseq = (reference(correct['random'], correct[m]) for m in ('ijepa', 'dseq'))
    assert ijepa.ci_low > 0 and dseq.ci_low < 0 < dseq.ci_high  # what the data were made for
    assert leaderboard.against_random(found.table, found.records) == [
        'ViT-B/16 CLEVR Count top-1 avg: I-JEPA beats random init (50.0 vs 43.2, +6.8 '
        f'[{ijepa.ci_low:+.1f}, {ijepa.ci_high:+.1f}], {ijepa.p_le_0:.1%} of resamples <= 0)',
        'ViT-B/16 CLEVR Count top-1 avg: DSeq-JEPA does NOT beat random init beyond noise '
        f'(44.0 vs 43.2, +0.8 [{dseq.ci_low:+.1f}, {dseq.ci_high:+.1f}], {dseq.p_le_0:.1%} of '
        'resamples <= 0)']


def test_two_seeds_a_method_draw_images_and_seeds(tmp_path):
    rng = np.random.default_rng(3)
    correct = {'ijepa': [with_k_right(rng, 100, k) for k in (50, 60)],
               'dseq': [with_k_right(rng, 100, k) for k in (70, 75)]}
    found = results.collect([recorded_run(tmp_path / f'{m}_s{s}', m, c, seed=s)
                             for m, seeds in correct.items() for s, c in enumerate(seeds)])
    assert [len(r) for r in found.records[AVG_ROW].values()] == [2, 2]
    row, r = avg_row(found), reference(correct['ijepa'], correct['dseq'])
    assert (row['I-JEPA'], row['DSeq-JEPA']) == ('55.0 +- 7.1 (n=2)', '72.5 +- 3.5 (n=2)')
    assert row['DSeq - I-JEPA'] == f'+17.5 [{r.ci_low:+.1f}, {r.ci_high:+.1f}] better'
    # the seeds' luck widens the interval beyond that of the images alone
    first_seeds = reference(correct['ijepa'][0], correct['dseq'][0])
    assert r.ci_high - r.ci_low > first_seeds.ci_high - first_seeds.ci_low


def test_runs_on_other_images_get_no_interval_and_a_warning_naming_both(tmp_path):
    correct = np.ones(16, dtype=bool)
    found = results.collect([
        recorded_run(tmp_path / 'ijepa', 'ijepa', correct),
        recorded_run(tmp_path / 'dseq', 'dseq', correct, labels=np.arange(16)[::-1] % 8)])
    runs = [re.escape(str(tmp_path / m / STAMP)) for m in ('ijepa', 'dseq')]
    with pytest.warns(UserWarning, match=f'{runs[0]} and {runs[1]} were not evaluated on the same '
                                         'images'):
        assert avg_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'


def test_records_of_another_evaluation_are_left_out_with_a_warning(tmp_path):
    correct = np.arange(10) < 5  # records of 50.0, a log of 60.0
    run = recorded_run(tmp_path / 'dseq', 'dseq', correct, value=60.0)
    with pytest.warns(UserWarning, match=re.escape(
            f'{tmp_path / "dseq" / STAMP}: the records of {AVG} hold 50.0, the log 60.0')):
        found = results.collect([run])
    assert found.table[AVG_ROW] == {'dseq': [60.0]} and found.records[AVG_ROW] == {'dseq': [None]}


@pytest.mark.parametrize('config, message', [
    (dict(pretrain_method='dseq'), " has no 'report'"),
    (dict(pretrain_method='dseq', report=dict(REPORTS['coco'], task=None)),
     ': report.task is not set')])
def test_a_config_that_reports_no_task_is_an_error_naming_the_file_and_the_key(tmp_path, config,
                                                                                 message):
    run_dir = fake_run(tmp_path / 'coco_dseq', '20260101_000000', 'dseq', 'coco',
                       val=[{'coco/bbox_mAP': 0.3}])
    path = tmp_path / 'coco_dseq' / '20260101_000000' / 'vis_data' / 'config.py'
    Config(config).dump(str(path))
    with pytest.raises(KeyError, match=re.escape(f'{path}{message}')):
        results.collect([run_dir])


def test_tasks_keep_the_order_of_the_work_dirs_and_protocols_are_named(tmp_path):
    dirs = [fake_run(tmp_path / 'count_dseq', '20260101_000000', 'dseq', 'count',
                     test={'clevr_count/top1_cls': 61.5, 'clevr_count/top1_avg': 63.0},
                     protocol='top-1 cls'),
            fake_run(tmp_path / 'count_ijepa', '20260101_000000', 'ijepa', 'count',
                     test={'clevr_count/top1_avg': 58.0}, protocol='top-1 avg'),
            fake_run(tmp_path / 'coco_ijepa', '20260101_000000', 'ijepa', 'coco',
                     val=[{'coco/bbox_mAP': 0.4, 'coco/segm_mAP': 0.3}])]
    found = results.collect(dirs)
    assert [(r[1], r[2]) for r in leaderboard.rows(found.table)[1]] == [
        ('CLEVR Count', 'top-1 avg'), ('CLEVR Count', 'top-1 cls'), ('COCO', 'AP box'),
        ('COCO', 'AP mask')]
    assert leaderboard.protocol_line(found.protocols) == \
        '\nProtocol readout per task: CLEVR Count: I-JEPA top-1 avg, DSeq-JEPA top-1 cls\n'
    assert leaderboard.protocol_line({}) == ''


@pytest.fixture
def toy_method():
    """A third pretraining method, registered for one test."""
    method = methods.register(methods.Method('toy', 'Toy-JEPA', 'Toy', 'avg', published=(
        methods.Published('CLEVR Count', 'top-1 avg', 'ViT-B/16', 12.3, 'toy paper'),)))
    try:
        yield method
    finally:
        methods.unregister('toy')


def test_a_registered_method_shows_in_table_chart_and_verdicts(tmp_path, work_dirs, toy_method):
    toy = fake_run(tmp_path / 'count_toy', '20260101_000000', 'toy', 'count',
                   test={'clevr_count/top1_avg': 70.0})
    table = results.collect(work_dirs + [toy]).table
    header, body = leaderboard.rows(table)
    assert header == ['size', 'task', 'metric', 'I-JEPA', 'DSeq-JEPA', 'Toy-JEPA', 'DSeq - I-JEPA',
                      'Toy - I-JEPA', 'random init', 'published I-JEPA', 'published DSeq-JEPA',
                      'published Toy-JEPA', 'checkpoint: how chosen']
    avg = next(dict(zip(header, r)) for r in body if r[1:3] == ['CLEVR Count', 'top-1 avg'])
    assert (avg['Toy-JEPA'], avg['Toy - I-JEPA'], avg['published Toy-JEPA']) == \
        ('70.0', '+12.0 [missing]', '12.3 (ViT-B/16, toy paper)')
    box = next(dict(zip(header, r)) for r in body if r[1:3] == ['COCO', 'AP box'])
    assert (box['Toy-JEPA'], box['Toy - I-JEPA'], box['published Toy-JEPA']) == \
        ('missing', 'missing', 'missing')
    assert ('ViT-B/16 CLEVR Count top-1 avg: Toy-JEPA beats random init (70.0 vs 40.0, +30.0, '
            'interval missing)') in leaderboard.against_random(table)
    labels, bars = leaderboard.chart_bars(table)
    assert [b[0] for b in bars] == ['I-JEPA', 'DSeq-JEPA', 'Toy-JEPA', 'random init']
    assert bars[2][2] == [70.0] and len(labels) == len(body)



def _referenced(page):
    """Every src and href of an HTML page, read with the standard library's parser."""
    from html.parser import HTMLParser

    class Links(HTMLParser):
        found = []

        def handle_starttag(self, tag, attrs):
            self.found += [v for k, v in attrs if k in ('src', 'href')]
    parser = Links()
    parser.feed(page.read_text())
    return parser.found


def test_the_page_embeds_tables_chart_and_figures_and_references_only_files_that_exist(
        tmp_path, work_dirs):
    from suite.compute import encoder_cost
    pictures = tmp_path / 'curves'
    pictures.mkdir()
    figure = pictures / 'curves.png'
    Image.new('RGB', (40, 30), 'white').save(figure)
    out = tmp_path / 'board'
    text = leaderboard.write_all(work_dirs, str(out), [str(figure)])
    page = out / 'leaderboard.html'
    links = _referenced(page)
    assert sorted(set(links)) == ['figures/curves/curves.png', 'leaderboard.png']
    assert all((out / link).is_file() for link in links)
    with Image.open(out / 'figures' / 'curves' / 'curves.png') as im:
        assert im.size == (40, 30)
    shown = page.read_text()
    assert shown.count('<table>') == 2 and '<td>best val epoch</td>' in shown
    # the compute table: the ViT-B/16 of the fabricated runs, its GFLOPs at the ADE run's input
    params, gflops = encoder_cost(dict(type='JEPAViT', arch='b', patch_size=16), (32, 48))
    with open(out / 'compute.csv') as f:
        compute = {(r['size'], r['method']): r for r in csv.DictReader(f)}
    dseq = compute[('ViT-B/16', 'DSeq-JEPA')]
    assert dseq['params (M)'] == f'{params / 1e6:.3g}' and dseq['GFLOPs @32x48'] == f'{gflops:.3g}'
    assert compute[('ViT-B/16', 'random init')]['pretraining epochs'] == '-'
    assert 'Compute per encoder' in text and (out / 'leaderboard.md').read_text() == text
