"""Baselines in the leaderboard (suite.methods, suite.leaderboard, suite.results): released encoders
of other methods beside the compared ones, columns only for methods with runs, published numbers by
encoder size, and the encoder file each method's runs started from."""
import hashlib
import os
import os.path as osp
from contextlib import contextmanager

import pytest
from mmengine.config import Config

from tests.helpers import config_files
from tests.suite.test_leaderboard import fake_run

from suite import leaderboard, methods, results

COUNT = ('CLEVR Count', 'top-1 avg')


@contextmanager
def registered(method):
    """``method`` registered for the block, unregistered after it whatever happens."""
    methods.register(method)
    try:
        yield method
    finally:
        methods.unregister(method.name)


@pytest.fixture
def registry_kept():
    """Fails the test that leaves the registry other than it found it (names, order, entries)."""
    before = list(methods.METHODS.items())
    yield before
    assert list(methods.METHODS.items()) == before


def test_the_baselines_are_registered_with_their_readouts():
    got = {m.name: (m.label, m.readout, m.compared) for m in methods.pretrained()}
    assert got == {'ijepa': ('I-JEPA', 'avg', True), 'dseq': ('DSeq-JEPA', 'cls', True),
                   'mae': ('MAE', 'avg', False), 'dinov2': ('DINOv2', 'cls', False),
                   'deit3': ('DeiT III (supervised)', 'cls', False)}
    assert (methods.baseline().name, methods.baseline().readout) == ('random', None)
    assert methods.METHODS['deit3'].published == ()  # SPEC section 5 has none


def test_registering_and_unregistering_leaves_the_registry_as_it_was(registry_kept):
    base = methods.Method('toybase', 'Toy baseline', 'ToyB', 'cls', compared=False)
    late = methods.Method('late', 'Late-JEPA', 'Late', 'avg')
    with registered(base), registered(late):
        # compared methods first, then the baselines, each in the order of registration
        assert [m.name for m in methods.pretrained()] == ['ijepa', 'dseq', 'late', 'mae',
                                                         'dinov2', 'deit3', 'toybase']
        with pytest.raises(KeyError, match='registered already'):
            methods.register(base)
    assert list(methods.METHODS.items()) == registry_kept
    with pytest.raises(ValueError, match="readout 'concat4'"):
        methods.register(methods.Method('bad', 'Bad', 'Bad', 'concat4'))
    with pytest.raises(ValueError, match='baseline every method is set against'):
        methods.unregister('random')
    assert 'bad' not in methods.METHODS


def count_runs(tmp_path, values, **backbone):
    """A CLEVR Count run per method of ``values`` (method -> top-1 avg), tested."""
    return [fake_run(tmp_path / f'count_{m}', '20260101_000000', m, 'count',
                     test={'clevr_count/top1_avg': v}, **backbone) for m, v in values.items()]


def test_only_methods_with_runs_get_columns_and_a_baseline_is_compared_like_the_others(tmp_path):
    found = results.collect(count_runs(tmp_path, dict(ijepa=58.0, dseq=63.0, mae=61.0,
                                                      random=40.0), arch='h', patch_size=14))
    header, body = leaderboard.rows(found.table, found.records, found.selections)
    assert header == ['size', 'task', 'metric', 'I-JEPA', 'DSeq-JEPA', 'MAE', 'DSeq - I-JEPA',
                      'MAE - I-JEPA', 'random init', 'published I-JEPA', 'published DSeq-JEPA',
                      'published MAE', 'checkpoint: how chosen']
    row = dict(zip(header, body[0]))
    assert (row['MAE'], row['MAE - I-JEPA'], row['random init']) == \
        ('61.0', '+3.0 [missing]', '40.0')
    assert row['published MAE'] == '90.5 (ViT-H/14, I-JEPA paper Table 4, not VTAB-1k)'
    assert row['published DSeq-JEPA'] == 'missing'
    assert leaderboard.against_random(found.table)[-1] == (
        'ViT-H/14 CLEVR Count top-1 avg: MAE beats random init (61.0 vs 40.0, +21.0, interval '
        'missing)')
    _, bars = leaderboard.chart_bars(found.table)
    assert [b[0] for b in bars] == ['I-JEPA', 'DSeq-JEPA', 'MAE', 'random init']


def test_the_first_compared_method_with_runs_is_the_reference(tmp_path):
    table = results.collect(count_runs(tmp_path / 'a', dict(dinov2=70.0, dseq=63.0))).table
    header, body = leaderboard.rows(table)
    assert header[3:6] == ['DSeq-JEPA', 'DINOv2', 'DINOv2 - DSeq-JEPA']
    assert body[0][5] == '+7.0 [missing]'
    assert header[6] == 'random init' and body[0][6] == '-'  # its column stays, without a run
    table = results.collect(count_runs(tmp_path / 'b', dict(dinov2=70.0, mae=60.0))).table
    header, body = leaderboard.rows(table)  # no compared method ran: the first baseline
    assert header[3:7] == ['MAE', 'DINOv2', 'DINOv2 - MAE', 'random init']
    assert body[0][5] == '+10.0 [missing]'


def test_the_protocol_line_names_a_baselines_declared_readout_over_its_configs_token(
        tmp_path):
    dirs = count_runs(tmp_path, dict(mae=61.0, dinov2=70.0, ijepa=58.0, random=40.0))
    dirs.append(fake_run(tmp_path / 'count_dseq', '20260101_000000', 'dseq', 'count',
                         test={'clevr_count/top1_cls': 62.0}, protocol='top-1 cls'))
    found = results.collect(dirs)
    # I-JEPA's config names no protocol and it is compared: nothing is said for it
    assert found.protocols == {'CLEVR Count': dict(mae='top-1 avg', dinov2='top-1 cls',
                                                   dseq='top-1 cls')}
    assert leaderboard.protocol_line(found.protocols) == (
        '\nProtocol readout per task: CLEVR Count: DSeq-JEPA top-1 cls, MAE top-1 avg, '
        'DINOv2 top-1 cls\n')
    # MAE on DSeq-JEPA's config, whose protocol reads the CLS token: MAE's own readout instead
    told = fake_run(tmp_path / 'told', '20260101_000000', 'mae', 'count', protocol='top-1 cls',
                    test={'clevr_count/top1_avg': 61.0, 'clevr_count/top1_cls': 60.0})
    assert results.collect([told]).protocols == {'CLEVR Count': dict(mae='top-1 avg')}
    # a protocol the methods share (concat4) gives way to its own readout's row too
    shared = fake_run(tmp_path / 'shared', '20260101_000000', 'mae', 'count',
                      protocol='top-1 concat4', test={'clevr_count/top1_concat4': 61.0,
                                                      'clevr_count/top1_avg': 60.0})
    assert results.collect([shared]).protocols == {'CLEVR Count': dict(mae='top-1 avg')}
    coco = fake_run(tmp_path / 'coco', '20260101_000000', 'mae', 'coco',
                    val=[{'coco/bbox_mAP': 0.3, 'coco/segm_mAP': 0.2}])
    assert results.collect([coco]).protocols == {}  # no row reads a readout


# ------------------------------------------------------------------ published numbers by size


def test_a_row_shows_the_published_number_of_its_size_else_of_its_width_else_none(
        registry_kept):
    entries = [methods.Published('T', 'm', size, value, 'paper') for size, value in (
        ('ViT-B/16', 1.0), ('ViT-H/14', 2.0), ('ViT-H/16@448', 3.0), ('ViT-L', 4.0))]
    with registered(methods.Method('toy', 'Toy', 'Toy', 'avg', tuple(entries))) as toy:
        found = [toy.published_at('T', 'm', size) for size in (
            'ViT-B/16', 'ViT-H/14', 'ViT-H/16', 'ViT-H/16@448', 'ViT-L/16', 'ViT-B/14')]
        assert [p.value for p in found] == [1.0, 2.0, 3.0, 3.0, 4.0, 1.0]
        # another width's number is not the row's: missing, never borrowed
        assert toy.published_at('T', 'm', 'ViT-S/16') is None
        assert toy.published_at('T', 'm', 'ViT-96x6/16') is None
        assert toy.published_at('T', 'other', 'ViT-B/16') is None
        table = {(size, 'T', 'm'): {'toy': [0.5]} for size in ('ViT-B/16', 'ViT-H/14', 'ViT-S/16')}
        header, body = leaderboard.rows(table)
        assert [r[header.index('published Toy')] for r in body] == [
            '1.0 (ViT-B/16, paper)', '2.0 (ViT-H/14, paper)', 'missing']


def test_the_published_numbers_of_spec_section_5_by_size():
    def at(method, task, metric, size):
        found = methods.METHODS[method].published_at(task, metric, size)
        return found and (found.value, found.size)
    linear, knn = ('ImageNet-1k linear', 'top-1 concat4'), ('ImageNet-1k kNN', 'top-1 concat4')
    assert at('ijepa', *linear, 'ViT-B/16') == (72.9, 'ViT-B/16')
    assert at('ijepa', *linear, 'ViT-H/14') == (79.3, 'ViT-H/14')
    assert at('ijepa', *linear, 'ViT-H/16') == (81.1, 'ViT-H/16@448')
    assert at('ijepa', *knn, 'ViT-H/14') == (68.1, 'ViT-H/14')
    assert at('ijepa', *COUNT, 'ViT-H/14') == (86.7, 'ViT-H/14')
    assert at('dseq', *linear, 'ViT-H/14') == (82.4, 'ViT-H/16@448')  # "+1.3" over I-JEPA's 81.1
    assert at('dseq', *linear, 'ViT-B/16') == (73.8, 'ViT-B/16')
    assert at('dseq', 'CUB-200-2011 linear', 'top-1 concat4', 'ViT-H/14') is None  # only "+1.5"
    assert at('mae', 'ImageNet-1k linear', 'top-1 avg', 'ViT-H/14') == (77.2, 'ViT-H/14')
    assert at('mae', 'ImageNet-1k linear', 'top-1 avg', 'ViT-B/16') == (67.8, 'ViT-B/16')
    assert at('mae', 'ImageNet-1k kNN', 'top-1 avg', 'ViT-B/16') == (35.6, 'ViT-B/16')
    assert at('mae', 'COCO', 'AP mask', 'ViT-B/16') == (44.9, 'ViT-B/16')
    assert at('mae', 'CLEVR Dist', 'top-1 avg', 'ViT-H/14') == (72.4, 'ViT-H/14')
    assert at('dinov2', 'ImageNet-1k linear', 'top-1 cls', 'ViT-B/14') == (83.5, 'ViT-B/14')
    assert at('dinov2', 'ImageNet-1k kNN', 'top-1 cls', 'ViT-B/14') == (79.3, 'ViT-B/14')
    # SPEC 4h: the frozen dense linear probes, DINOv2's depth numbers read the CLS token too
    assert at('dinov2', 'ADE20K linear', 'mIoU', 'ViT-B/16') == (47.3, 'ViT-B/14')
    assert at('mae', 'ADE20K linear', 'mIoU', 'ViT-H/14') == (33.3, 'ViT-H/14')
    assert at('dinov2', 'NYU-Depth v2 linear +token', 'RMSE', 'ViT-B/16') == (0.399, 'ViT-B/14')
    assert at('dinov2', 'NYU-Depth v2 linear 4 +token', 'RMSE', 'ViT-B/14') == (0.362, 'ViT-B/14')
    assert at('mae', 'NYU-Depth v2 linear 4 +token', 'RMSE', 'ViT-H/14') == (0.483, 'ViT-H/14')
    assert at('dinov2', 'NYU-Depth v2 linear', 'RMSE', 'ViT-B/14') is None  # patch tokens only
    assert at('ijepa', 'ADE20K linear', 'mIoU', 'ViT-B/16') is None  # not found


def test_every_published_number_stands_in_a_row_the_configs_report():
    from transfer.clevr import with_task
    reported = set()
    for path in config_files():
        if f'{osp.sep}_base_{osp.sep}' in path:
            continue
        cfg = Config.fromfile(path, import_custom_modules=False)  # the report is data
        if cfg.get('runner_type') == 'ClevrProbeRunner':  # its task decides its report's rows
            cfg = with_task(cfg)
        report = cfg.get('report') or {}
        if report.get('task') and report.get('metrics'):
            reported |= {(report['task'], label) for label, _ in report['metrics'].values()}
    for method in methods.METHODS.values():
        for number in method.published:
            assert (number.task, number.metric) in reported, (method.name, number)
            assert number.source and number.size.startswith('ViT-'), (method.name, number)


# ------------------------------------------------------------------ encoder files


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def test_an_encoder_file_is_named_with_its_sha256(tmp_path):
    weights = tmp_path / 'mae_vitb16.pth'
    weights.write_bytes(b'weights' * 1000)
    assert results.encoder_file(str(weights)) == f'mae_vitb16.pth ({digest(b"weights" * 1000)})'
    relative = osp.relpath(weights, results.ROOT)  # as the runner's stages read it
    assert results.encoder_file(relative) == results.encoder_file(str(weights))
    folder = tmp_path / 'dinov2_timm'
    folder.mkdir()
    assert results.encoder_file(str(folder)) == 'missing file dinov2_timm/model.safetensors'
    (folder / 'model.safetensors').write_bytes(b'timm')
    (folder / 'config.json').write_text('{}')
    assert results.encoder_file(str(folder) + '/') == \
        f'dinov2_timm/model.safetensors ({digest(b"timm")})'
    bin_only = tmp_path / 'mae_hf'
    bin_only.mkdir()
    (bin_only / 'pytorch_model.bin').write_bytes(b'bin')  # what the loader reads there
    assert results.encoder_file(str(bin_only)) == f'mae_hf/pytorch_model.bin ({digest(b"bin")})'
    assert results.encoder_file(str(tmp_path / 'gone.pth')) == 'missing file gone.pth'
    assert results.encoder_file(None) == 'none (random init)'


def test_a_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    read = []
    monkeypatch.setattr(results, 'file_sha256', lambda path: read.append(path) or 'f' * 64)
    weights = tmp_path / 'big.pth'
    weights.write_bytes(b'a' * 10)
    os.symlink(weights, tmp_path / 'link.pth')
    for path in (weights, tmp_path / 'link.pth', weights):  # one file, however named
        results.file_digest(str(path))
    assert read == [osp.realpath(weights)]
    weights.write_bytes(b'b' * 11)  # rewritten: hashed again
    results.file_digest(str(weights))
    assert len(read) == 2


def test_the_table_names_each_methods_encoder_files_per_size(tmp_path):
    files = {}
    for name in ('ijepa_s0.pth', 'ijepa_s1.pth', 'dinov2.pth'):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode())
    dirs = [fake_run(tmp_path / f'count_ijepa_s{s}', '20260101_000000', 'ijepa', 'count', seed=s,
                     test={'clevr_count/top1_avg': 58.0 + s},
                     init_cfg=dict(type='Pretrained', checkpoint=str(files[f'ijepa_s{s}.pth'])))
            for s in (0, 1)]
    dirs += count_runs(tmp_path / 'm', dict(mae=61.0),
                       init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae.pth')))
    dirs += count_runs(tmp_path / 'r', dict(random=40.0), init_cfg=dict(checkpoint=None))
    dirs += count_runs(tmp_path / 'd', dict(dinov2=70.0), patch_size=14,
                       init_cfg=dict(type='Pretrained', checkpoint=str(files['dinov2.pth'])))
    found = results.collect(dirs)
    header, body = leaderboard.rows(found.table, found.records, found.selections,
                                    results.encoder_files(found.runs))
    assert [r[:3] for r in body] == [
        ['ViT-B/14', 'encoder', 'file (sha256)'], ['ViT-B/14', *COUNT],
        ['ViT-B/16', 'encoder', 'file (sha256)'], ['ViT-B/16', *COUNT]]
    b14, b16 = (dict(zip(header, body[i])) for i in (0, 2))
    assert b16['I-JEPA'] == (f'ijepa_s0.pth ({digest(b"ijepa_s0.pth")}); '
                             f'ijepa_s1.pth ({digest(b"ijepa_s1.pth")})')
    assert (b16['MAE'], b16['DINOv2'], b16['random init']) == \
        ('missing file mae.pth', 'missing', 'none (random init)')
    assert (b14['DINOv2'], b14['I-JEPA'], b14['random init']) == \
        (f'dinov2.pth ({digest(b"dinov2.pth")})', 'missing', '-')
    assert b16['MAE - I-JEPA'] == b16['published MAE'] == b16['checkpoint: how chosen'] == ''


def test_the_written_files_carry_the_encoder_row(tmp_path):
    weights = tmp_path / 'mae.pth'
    weights.write_bytes(b'mae')
    dirs = count_runs(tmp_path, dict(mae=61.0),
                      init_cfg=dict(type='Pretrained', checkpoint=str(weights)))
    out = tmp_path / 'board'
    text = leaderboard.write_all(dirs, str(out))
    cell = f'mae.pth ({digest(b"mae")})'
    assert f'| ViT-B/16 | encoder | file (sha256) | {cell} | - |' in text
    assert f'ViT-B/16,encoder,file (sha256),{cell},-' in (out / 'leaderboard.csv').read_text()
    assert f'<td>{cell}</td>' in (out / 'leaderboard.html').read_text()


def test_the_provenance_reads_the_folder_file_the_loader_reads():
    from backbones.weights import FOLDER_WEIGHTS
    assert results.FOLDER_WEIGHTS == FOLDER_WEIGHTS


def test_a_baselines_protocol_row_is_the_declared_row_read_with_its_own_readout():
    METHODS, protocol_of = methods.METHODS, results.protocol_of

    def report(labels, protocol):
        return dict(metrics={f'key/{i}': (label, 1) for i, label in enumerate(labels)},
                    protocol=protocol)
    # listed first block first: the declared row's block, not the first row of the readout
    layerwise = report([f'top-1 block {k} {r}' for k in (1, 2, 3) for r in ('avg', 'cls')],
                       'top-1 block 3 avg')
    assert protocol_of(METHODS['dinov2'], layerwise) == 'top-1 block 3 cls'
    assert protocol_of(METHODS['mae'], layerwise) == 'top-1 block 3 avg'
    assert protocol_of(METHODS['dseq'], layerwise) == 'top-1 block 3 avg'  # compared: declared
    linear = report(['top-1 concat4', 'top-1 avg', 'top-1 cls'], 'top-1 concat4')
    assert protocol_of(METHODS['dinov2'], linear) == 'top-1 cls'
    assert protocol_of(METHODS['mae'], linear) == 'top-1 avg'
    # no row of the baseline's readout: the config's
    attentive = report(['top-1 patches', 'top-1 cls_patches'], 'top-1 patches')
    assert protocol_of(METHODS['dinov2'], attentive) == 'top-1 patches'
