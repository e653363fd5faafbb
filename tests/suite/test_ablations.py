"""The paper's ablations: a config per row one switch away from DSeq-JEPA's, the `ablations` and
`tiny_ablations` suite presets (their dry runs) and the tables (suite.ablations) on fabricated
work dirs in mmengine's layout."""
import csv
import glob
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from tests.helpers import ROOT, config_differences, run_tool, suite_stages

from suite import ablations

#: the default rows: the methods' own configs
METHOD_ROWS = ('ijepa', 'dseq')
SWITCHED = [r for r in ablations.ROWS if r not in METHOD_ROWS]
#: where each row's config lives, per preset: (folder, DSeq-JEPA's config it is one switch from)
FAMILIES = {
    'ablations': ('configs/pretrain/ablations/dseq_vitb16_in1k_{}.py',
                  'configs/pretrain/dseq_vitb16_in1k.py'),
    'tiny_ablations': ('configs/pretrain/ablations/dseq_vittiny_synthclevr_{}.py',
                       'configs/pretrain/dseq_vittiny_synthclevr.py'),
}
#: SPEC section 3 ("Ablations") and section 5, per table: row -> (ImageNet-1k, iNat21) linear top-1
SPEC = {
    'Region source x prediction': {'ijepa': (72.4, 35.9), 'regions-uniform': (72.3, None),
                                   'prediction-flat': (72.0, None), 'dseq': (73.5, 36.4)},
    'Prediction order': {'dseq': (73.5, None), 'order-random': (71.7, None),
                         'order-spatial': (72.7, None), 'order-inverse': (71.3, None),
                         'top_k-3': (73.0, None)},
    'Number of regions N': {'num_regions-3': (72.9, None), 'dseq': (73.5, None),
                            'num_regions-7': (73.4, None)},
    'Saliency source': {'dseq': (73.5, None), 'saliency-gradcam': (73.4, None)},
    'Curriculum': {'dseq': (None, None), 'curriculum-per_region': (None, None)},
}


def switch_of(row: str):
    """A row's model switch from its name, ``<switch>-<value>``: (key, value as the config has
    it)."""
    key, value = row.split('-', 1)
    return key, int(value) if value.isdigit() else value


def test_the_tables_hold_the_papers_rows_and_numbers():
    assert [g.title for g in ablations.GROUPS] == list(SPEC)
    for group in ablations.GROUPS:
        got = {e.row: (e.published.get(ablations.IN1K), e.published.get(ablations.INAT21))
               for e in group.entries}
        assert got == SPEC[group.title], group.title
        assert all(len(e.setting) == len(group.columns) for e in group.entries)
        assert (group.source is None) == all(not e.published for e in group.entries)


@pytest.mark.parametrize('preset', FAMILIES)
@pytest.mark.parametrize('row', SWITCHED)
def test_each_row_is_one_switch_from_dseq_jepa(preset, row):
    pattern, base = FAMILIES[preset]
    path = osp.join(ROOT, pattern.format(row))
    key, value = switch_of(row)
    assert config_differences(osp.join(ROOT, base), path) == {f'model.{key}'}
    assert Config.fromfile(path).model[key] == value


@pytest.mark.parametrize('preset', FAMILIES)
def test_every_ablation_config_names_a_row(preset):
    pattern, _ = FAMILIES[preset]
    prefix, suffix = pattern.split('{}')
    found = sorted(p[len(ROOT) + 1 + len(prefix):-len(suffix)]
                   for p in glob.glob(osp.join(ROOT, pattern.format('*'))))
    assert found == sorted(SWITCHED)


@pytest.mark.parametrize('preset', FAMILIES)
def test_the_presets_run_every_row_and_probe_it_with_its_methods_config(preset):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'suite', f'{preset}.py'))
    pattern, base = FAMILIES[preset]
    assert cfg.pretrain.dseq == base and set(cfg.pretrain) == set(METHOD_ROWS)
    assert cfg.pretrain.ijepa == base.replace('dseq', 'ijepa')  # I-JEPA: uniform + flat
    assert list(cfg.ablations) == SWITCHED
    for row, spec in cfg.ablations.items():
        assert spec == dict(pretrain=pattern.format(row), method='dseq'), row


@pytest.mark.parametrize('preset', FAMILIES)
def test_the_dry_run_lists_every_rows_pretraining_and_transfer_tagged_with_the_row(tmp_path,
                                                                                   preset):
    out = run_tool('run_suite.py', '--preset', preset, '--dry-run', '--work-dir', str(tmp_path),
                   env=dict(os.environ))
    commands = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith('$ ')]
    stages = suite_stages(osp.join(ROOT, 'configs', 'suite', f'{preset}.py'))
    assert len(commands) == sum(stages.values())
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'suite', f'{preset}.py'))
    for row in ablations.ROWS:
        pretrain = [c for c in commands if c.endswith(f'--work-dir {tmp_path}/pretrain_{row}') or
                    f'--work-dir {tmp_path}/pretrain_{row} ' in c]
        config = cfg.ablations[row].pretrain if row in cfg.ablations else cfg.pretrain[row]
        assert len(pretrain) == 1 and f' {config} ' in pretrain[0], row
        for task in cfg.transfer:
            method = cfg.ablations[row].method if row in cfg.ablations else row
            ran = [c for c in commands if f'--work-dir {tmp_path}/{task.name}_{row} ' in c]
            assert len(ran) == stages[f'{task.name}_{row}'] >= 1, (row, task.name)
            for command in ran:
                assert f' {task.configs[method]} ' in command
                assert f'model.backbone.init_cfg.checkpoint={tmp_path}/pretrain_{row}/' in command
                tagged = f'ablation={row}' in command.split()
                assert tagged == (row in cfg.ablations), command
    assert out.splitlines()[-1] == 'would write the ablation tables of: ' + ' '.join(
        f'{tmp_path}/{t.name}_{r}' for t in cfg.transfer for r in
        list(cfg.pretrain) + [m for m in ['random'] if t.get('random')] + list(cfg.ablations))
    assert not os.listdir(tmp_path)


def test_a_row_named_like_a_method_or_probed_by_none_is_refused(tmp_path):
    from suite.runner import load_preset
    for ablation, message in (("{'dseq': dict(pretrain='x.py', method='dseq')}", 'named like'),
                              ("{'n-3': dict(pretrain='x.py', method='toy')}", 'tasks without')):
        preset = tmp_path / 'preset.py'
        preset.write_text(f"_base_ = '{ROOT}/configs/suite/tiny_ablations.py'\n"
                          f"ablations = dict(_delete_=True, **{ablation})\n")
        with pytest.raises(KeyError, match=message):
            load_preset(str(preset))


# --- the tables on fabricated runs ------------------------------------------------------------

REPORTS = {task: dict(task=task, protocol='top-1 concat4', selection='last epoch, no selection',
                      metrics={f'accuracy/top1_{r}': (f'top-1 {r}', 1) for r in ('concat4', 'avg')})
           for task in ('ImageNet-1k linear', 'iNat21 linear')}


def fake_run(work_dir, method, task, top1, row=None, seed=0, stamp='20260101_000000'):
    """A tested transfer run as mmengine writes it: its config (``ablation`` as the runner tags
    it) and its test json."""
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    config = dict(pretrain_method=method, randomness=dict(seed=seed),
                  model=dict(backbone=dict(type='JEPAViT', arch='b', patch_size=16)),
                  report=REPORTS[task], **({'ablation': row} if row else {}))
    Config(config).dump(str(run / 'vis_data' / 'config.py'))
    with open(run / 'vis_data' / 'scalars.json', 'w') as f:
        f.write(json.dumps(dict(loss=1.0, step=1)) + '\n')
    with open(run / f'{stamp}.json', 'w') as f:
        f.write(json.dumps({'accuracy/top1_concat4': top1, 'accuracy/top1_avg': top1 - 5}) + '\n')
    return str(work_dir)


#: ImageNet-1k top-1 per row and seed; top_k-3 and curriculum-per_region not run
OURS = {'ijepa': [70.0], 'dseq': [71.0, 72.0], 'regions-uniform': [69.5],
        'prediction-flat': [68.25],
        'order-random': [67.0], 'order-spatial': [66.0], 'order-inverse': [65.0],
        'num_regions-3': [64.0], 'num_regions-7': [63.0], 'saliency-gradcam': [62.0]}
OURS_INAT = {'ijepa': [30.0], 'dseq': [31.0]}


@pytest.fixture
def fake_dirs(tmp_path):
    dirs = []
    for task, ours in (('ImageNet-1k linear', OURS), ('iNat21 linear', OURS_INAT)):
        for row, values in ours.items():
            method = row if row in METHOD_ROWS else 'dseq'
            for seed, value in enumerate(values):
                dirs.append(fake_run(tmp_path / f'{task[:4]}_{row}_{seed}', method, task, value,
                                     None if row in METHOD_ROWS else row, seed))
    dirs.append(fake_run(tmp_path / 'random', 'random', 'ImageNet-1k linear', 10.0))
    dirs.append(str(tmp_path / 'not_yet'))  # a stage without an evaluation: cells stay missing
    fake_run(tmp_path / 'not_yet', 'dseq', 'ImageNet-1k linear', 0.0, 'top_k-3')
    os.remove(tmp_path / 'not_yet' / '20260101_000000' / '20260101_000000.json')
    return dirs


def expected_cell(values):
    if not values:
        return 'missing'
    if len(values) == 1:
        return f'{values[0]:.1f}'
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f'{mean:.1f} +- {std:.1f} (n={len(values)})'


def sections(text):
    """The markdown's tables: heading -> rows of cells (header first)."""
    out, heading = {}, None
    for line in text.splitlines():
        if line.startswith('### '):
            heading = line[4:]
            out[heading] = []
        elif line.startswith('| ') and heading:
            out[heading].append([c.strip() for c in line.strip('|').split('|')])
    return out


def test_the_tables_group_the_rows_with_ours_beside_the_published(tmp_path, fake_dirs):
    text = ablations.write_tables(fake_dirs, str(tmp_path / 'out'))
    assert (tmp_path / 'out' / 'ablations.md').read_text() == text
    found = sections(text)
    assert len(found) == len(SPEC)
    for (heading, table), (title, published) in zip(found.items(), SPEC.items()):
        assert heading.startswith(title + ' (published: ')
        if all(p == (None, None) for p in published.values()):
            assert heading.endswith('missing, the paper has no such table)')
        else:
            assert 'DSeq-JEPA paper' in heading and 'ViT-B/16' in heading
        head, body = table[0], table[1:]
        assert head[-4:] == ['ViT-B/16 ImageNet-1k linear top-1 concat4',
                             'ViT-B/16 iNat21 linear top-1 concat4',
                             'published ImageNet-1k linear top-1 concat4',
                             'published iNat21 linear top-1 concat4']  # the protocol readout only
        assert [r[head.index('run')] for r in body] == list(published)
        for r in body:
            row = r[head.index('run')]
            assert r[-4:-2] == [expected_cell(OURS.get(row)), expected_cell(OURS_INAT.get(row))]
            assert r[-2:] == ['missing' if p is None else str(p) for p in published[row]]
    assert text.rstrip().endswith('ImageNet-1k linear: last epoch, no selection; '
                                  'iNat21 linear: last epoch, no selection')


def test_the_csv_has_every_cell_with_the_source_of_each_published_number(tmp_path, fake_dirs):
    ablations.write_tables(fake_dirs, str(tmp_path / 'out'))
    with open(tmp_path / 'out' / 'ablations.csv') as f:
        head, *lines = list(csv.reader(f))
    assert head == ['table', 'setting', 'run', 'size', 'task', 'metric', 'value', 'source']
    entries = sum(len(rows) for rows in SPEC.values())
    assert len(lines) == entries * 4  # ours and published, ImageNet-1k and iNat21
    for table, _setting, row, _size, task, _metric, value, source in lines:
        if source == 'this run':
            assert value == expected_cell((OURS if task.startswith('ImageNet') else
                                           OURS_INAT).get(row))
        else:
            number = SPEC[table][row][0 if task.startswith('ImageNet') else 1]
            assert value == ('missing' if number is None else str(number))
            assert (source == '') == (number is None)


def test_two_work_dirs_of_one_row_and_seed_are_refused(tmp_path, fake_dirs):
    again = fake_run(tmp_path / 'again', 'dseq', 'ImageNet-1k linear', 1.0, 'order-inverse')
    with pytest.raises(ValueError, match="ablation row 'order-inverse'"):
        ablations.collect(fake_dirs + [again])
