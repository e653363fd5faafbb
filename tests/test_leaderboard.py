"""The leaderboard (suite.leaderboard, tools/leaderboard.py) on fabricated work dirs in mmengine's
layout."""
import csv
import json
import re

import pytest
from mmengine.config import Config
from PIL import Image

from conftest import run_tool

from suite import leaderboard, methods, results

#: what the transfer configs of each task declare they report
REPORTS = {
    'coco': dict(task='COCO', metrics={'coco/bbox_mAP': ('AP box', 100),
                                       'coco/segm_mAP': ('AP mask', 100)}),
    'ade': dict(task='ADE20K', metrics={'mIoU': ('mIoU', 1)}),
    'count': dict(task='CLEVR Count', samples='clevr_count/num_samples',
                  metrics={'clevr_count/top1_avg': ('top-1 avg', 1),
                           'clevr_count/top1_cls': ('top-1 cls', 1),
                           'clevr_count/top1_concat4': ('top-1 concat4', 1)})}


def fake_run(work_dir, stamp, method, task, seed=0, val=(), test=(), arch='b', protocol=None):
    """A run folder as mmengine writes it: the config, the scalars and, for a test, its json."""
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    config = dict(pretrain_method=method, randomness=dict(seed=seed),
                  model=dict(backbone=dict(type='JEPAViT', arch=arch, patch_size=16)),
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
    header, body = leaderboard.rows(results.collect(work_dirs).table)
    return {(r[1], r[2]): dict(zip(header, r)) for r in body}


def test_cells_seeds_differences_and_published_columns(work_dirs):
    rows = table_rows(work_dirs)
    box = rows[('COCO', 'AP box')]
    assert box['size'] == 'ViT-B/16'
    assert box['I-JEPA'] == '41.0 +- 1.4 (n=2)'  # the last validation of each seed
    assert box['DSeq-JEPA'] == '45.5' and box['DSeq - I-JEPA'] == '+4.5'
    assert box['published I-JEPA'] == '49.9 (C-JEPA paper, ViT-B/16)'
    assert box['published DSeq-JEPA'] == '50.5 (DSeq-JEPA project page, ViT-B/16)'
    mask = rows[('COCO', 'AP mask')]
    assert mask['I-JEPA'] == '35.5 +- 0.7 (n=2)' and mask['published DSeq-JEPA'] == 'missing'
    ade = rows[('ADE20K', 'mIoU')]
    assert (ade['I-JEPA'], ade['DSeq-JEPA'], ade['DSeq - I-JEPA']) == ('missing', '31.2', 'missing')
    assert ade['published I-JEPA'].startswith('47.6') and ade['random init'] == '-'
    avg = rows[('CLEVR Count', 'top-1 avg')]
    assert (avg['I-JEPA'], avg['DSeq-JEPA'], avg['random init']) == ('58.0', '63.0', '40.0')
    assert avg['published I-JEPA'].startswith('86.7 (I-JEPA paper Table 4, ViT-H/14')
    cls = rows[('CLEVR Count', 'top-1 cls')]  # I-JEPA has no CLS token: missing, not filled in
    assert (cls['I-JEPA'], cls['DSeq-JEPA'], cls['DSeq - I-JEPA']) == ('missing', '61.5', 'missing')
    assert ('CLEVR Dist', 'top-1 avg') not in rows
    verdicts = leaderboard.against_random(results.collect(work_dirs).table)
    assert verdicts == ['ViT-B/16 CLEVR Count top-1 avg: I-JEPA beats random init (58.0 vs 40.0, +18.0)',
                        'ViT-B/16 CLEVR Count top-1 avg: DSeq-JEPA beats random init (63.0 vs 40.0, +23.0)']
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
    assert '| ViT-B/16 | COCO | AP box | 41.0 +- 1.4 (n=2) | 45.5 | +4.5 |' in text
    with open(out / 'leaderboard.csv') as f:
        body = list(csv.reader(f))
    assert body[0][:5] == ['size', 'task', 'metric', 'I-JEPA', 'DSeq-JEPA']
    assert len(body) == 1 + len(table_rows(work_dirs))  # the header, then every row of the table
    assert (out / 'leaderboard.md').read_text() in text
    assert '- ViT-B/16 CLEVR Count top-1 avg: I-JEPA beats random init (58.0 vs 40.0, +18.0)' in text
    assert '- ViT-B/16 CLEVR Count top-1 avg: DSeq-JEPA beats random init (63.0 vs 40.0, +23.0)' in text
    assert '<td>63.0</td>' in (out / 'leaderboard.html').read_text()
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
        'ViT-S/16 CLEVR Count top-1 avg: I-JEPA does NOT beat random init (32.0 vs 32.5, -0.5)',
        'ViT-S/16 CLEVR Count top-1 avg: DSeq-JEPA does NOT beat random init (31.0 vs 32.5, -1.5)']


def test_a_gain_within_the_test_sets_noise_is_not_a_win(tmp_path):
    # 1000 test images: the difference's standard error is about 2.2 points here
    dirs = [fake_run(tmp_path / m, '20260101_000000', m, 'count',
                     test={'clevr_count/top1_avg': acc, 'clevr_count/num_samples': 1000})
            for m, acc in (('ijepa', 47.9), ('dseq', 44.0), ('random', 43.2))]
    table = results.collect(dirs).table
    assert [r[2] for r in leaderboard.rows(table)[1]] == ['top-1 avg']  # no row for the sizes
    assert leaderboard.against_random(table) == [
        'ViT-B/16 CLEVR Count top-1 avg: I-JEPA beats random init '
        '(47.9 vs 43.2, +4.7, +2.1 standard errors)',
        'ViT-B/16 CLEVR Count top-1 avg: DSeq-JEPA does NOT beat random init beyond noise '
        '(44.0 vs 43.2, +0.8, +0.4 standard errors)']


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
    method = methods.register(methods.Method('toy', 'Toy-JEPA', 'Toy', published={
        ('CLEVR Count', 'top-1 avg'): (12.3, 'toy paper')}))
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
                      'published Toy-JEPA']
    avg = next(dict(zip(header, r)) for r in body if r[1:3] == ['CLEVR Count', 'top-1 avg'])
    assert (avg['Toy-JEPA'], avg['Toy - I-JEPA'], avg['published Toy-JEPA']) == \
        ('70.0', '+12.0', '12.3 (toy paper)')
    box = next(dict(zip(header, r)) for r in body if r[1:3] == ['COCO', 'AP box'])
    assert (box['Toy-JEPA'], box['Toy - I-JEPA'], box['published Toy-JEPA']) == \
        ('missing', 'missing', 'missing')
    assert 'ViT-B/16 CLEVR Count top-1 avg: Toy-JEPA beats random init (70.0 vs 40.0, +30.0)' \
        in leaderboard.against_random(table)
    labels, bars = leaderboard.chart_bars(table)
    assert [b[0] for b in bars] == ['I-JEPA', 'DSeq-JEPA', 'Toy-JEPA', 'random init']
    assert bars[2][2] == [70.0] and len(labels) == len(body)

