"""Released and baseline encoders in suite presets (suite/encoders.py, suite/runner.py): files from
paths or environment variables, checked before any stage; the `released` preset's stages."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from suite.encoders import EncoderFileError, backbone_options, encoder_path, resolve
from suite.runner import load_preset
from tests.helpers import ROOT, run_tool, suite_stages

RELEASED = osp.join(ROOT, 'configs', 'suite', 'released_vith14.py')


def _env_without(*names: str) -> dict:
    return {k: v for k, v in os.environ.items() if k not in names}


def test_an_unset_variable_is_named_with_the_file_expected(tmp_path):
    entry = dict(env='DSEQ_VITH14', expect='the authors\' file')
    with pytest.raises(EncoderFileError, match=r"released\.dseq .* DSEQ_VITH14, which is not set: "
                                               r"export DSEQ_VITH14=PATH \(expected: the authors"):
        encoder_path('released', 'dseq', entry, {}, str(tmp_path))
    assert encoder_path('released', 'dseq', entry, {}, str(tmp_path), dry_run=True) == \
        '<$DSEQ_VITH14 unset>'
    assert encoder_path('baselines', 'mae', dict(entry, optional=True), {}, str(tmp_path)) is None


def test_a_missing_file_is_named_with_its_variable_and_relative_paths_start_at_the_root(tmp_path):
    (tmp_path / 'w.pth').write_bytes(b'x')
    entry = dict(env='IJEPA_VITH14')
    assert encoder_path('released', 'ijepa', entry, {'IJEPA_VITH14': 'w.pth'}, str(tmp_path)) == \
        str(tmp_path / 'w.pth')
    with pytest.raises(EncoderFileError, match=r'released\.ijepa: the encoder file gone\.pth '
                                               r'\(from \$IJEPA_VITH14\) does not exist'):
        encoder_path('released', 'ijepa', entry, {'IJEPA_VITH14': 'gone.pth'}, str(tmp_path))
    said = []
    files = resolve(dict(released=dict(ijepa=dict(path='w.pth')),
                         baselines=dict(mae=dict(path='none.pth', like='ijepa', optional=True))),
                    {}, str(tmp_path), say=said.append)
    assert files == dict(released=dict(ijepa=str(tmp_path / 'w.pth')), baselines={})
    assert said == ['baselines.mae: no file (none.pth), left out']


def test_backbone_options_read_back_as_written():
    from mmengine.config import DictAction
    import argparse
    options = backbone_options(dict(backbone=dict(num_reg_tokens=4, layer_scale_init=1e-5,
                                                  out_indices=(7, 15, 23, 31), fc_norm=True)))
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    parsed = parser.parse_args(['--o', *options]).o
    assert parsed == {'model.backbone.num_reg_tokens': 4, 'model.backbone.layer_scale_init': 1e-5,
                      'model.backbone.out_indices': (7, 15, 23, 31),
                      'model.backbone.fc_norm': True}


@pytest.mark.parametrize('extra, message', [
    ("baselines = dict(beit=dict(path='b.pth', like='dseq'))",
     r"'beit' is not a registered method"),
    ("baselines = dict(_delete_=True, mae=dict(path='b.pth'))",
     r'baselines\.mae needs like=<method>'),
    ("baselines = dict(_delete_=True, mae=dict(path='b.pth', like='moco'))",
     r"baselines\.mae\.like='moco', but task coco has no config for it"),
    ("released = dict(ijepa=dict(path='a.pth'))", r'exactly one of path= .* or env='),
    ("released = dict(ijepa=dict(sha='x'))", r"unknown keys \['sha'\]"),
    ("pretrain = dict(ijepa='configs/pretrain/ijepa_vitb16_in1k.py')",
     r"\['ijepa'\] both pretrained and released"),
    ("export = dict(ijepa='timm')", r"export\.ijepa='timm': export converts a pretrained method"),
    ("baselines = dict(mae=dict(tasks=['coco', 'imagenet']))",
     r"baselines\.mae\.tasks names \['imagenet'\], which are not tasks of the preset"),
    ("released = dict(_delete_=True, ijepa=dict(env='IJEPA_VITH14'))",
     r"task coco has configs for \['dseq'\], which neither pretrain nor released give"),
])
def test_presets_that_cannot_run_are_refused_by_name(tmp_path, extra, message):
    preset = tmp_path / 'preset.py'
    preset.write_text(f"_base_ = '{RELEASED}'\n{extra}\n")
    with pytest.raises(KeyError, match=message):
        load_preset(str(preset))


@pytest.mark.parametrize('seeds', ['[]', '[0, 0]', "['1']", '[True]', '3'])
def test_seeds_that_are_not_a_list_of_distinct_ints_are_refused(tmp_path, seeds):
    preset = tmp_path / 'preset.py'
    preset.write_text(f"_base_ = '{RELEASED}'\ntransfer = [dict(_base_.transfer[0], "
                      f"seeds={seeds})]\n")
    with pytest.raises(ValueError, match=r'task coco has seeds=.*; seeds is a list of distinct'):
        load_preset(str(preset))


def test_the_released_preset_lists_its_stages_without_its_files(tmp_path):
    env = _env_without('IJEPA_VITH14', 'DSEQ_VITH14', 'MAE_VITH14', 'DEIT3_VITH14')
    out = run_tool('run_suite.py', '--preset', 'released_vith14', '--dry-run', '--work-dir',
                   str(tmp_path), env=env)
    commands = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith('$ ')]
    stages = suite_stages(RELEASED)
    assert not any(s.startswith(('pretrain_', 'export_')) for s in stages)
    assert 'baselines.mae: no file (MAE_VITH14), left out' in out
    ran = [s for s in stages if not re.search(r'_(mae|deit3)(_seed\d+)?$', s)]
    assert len(commands) == sum(stages[s] for s in ran)
    assert (f'bash tools/dist_train.sh configs/maskrcnn/maskrcnn_dseq-vith14_25e_coco.py 8 '
            f'--work-dir {tmp_path}/coco_dseq --cfg-options '
            'model.backbone.init_cfg.checkpoint=<$DSEQ_VITH14 unset>') in commands
    assert not any('plot_curves.py' in c for c in commands)  # no pretraining: no curves
    assert not os.listdir(tmp_path)


def test_a_baseline_runs_every_task_with_its_layout_options(tmp_path):
    weights = tmp_path / 'mae'
    weights.mkdir()
    env = dict(_env_without('MAE_VITH14'), IJEPA_VITH14='i.pth', DSEQ_VITH14='d.pth',
               MAE_VITH14=str(weights), DEIT3_VITH14=str(tmp_path / 'absent.safetensors'))
    out = run_tool('run_suite.py', '--preset', 'released_vith14', '--dry-run', '--work-dir',
                   str(tmp_path / 'work'), env=env)
    commands = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith('$ ')]
    mae = [c for c in commands
           if re.search(r'_mae(_seed\d+)?$', c.split('--work-dir ')[-1].split()[0])]
    # every task, every seed of it
    assert len(mae) == sum(len(t.get('seeds', [0])) for t in load_preset(RELEASED)['transfer'])
    (coco,) = [c for c in mae if 'coco_mae' in c]
    assert coco.startswith('bash tools/dist_train.sh configs/maskrcnn/maskrcnn_dseq-vith14_25e_')
    assert coco.endswith(f'pretrain_method=mae model.backbone.init_cfg.checkpoint={weights}')
    deit3 = [c for c in commands if 'deit3' in c]
    assert deit3 == []  # its file is not there: optional, left out


def test_a_real_run_without_the_files_stops_before_any_stage(tmp_path):
    env = _env_without('IJEPA_VITH14', 'DSEQ_VITH14')
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'run_suite.py'), '--preset',
                           'released_vith14', '--work-dir', str(tmp_path / 'work')], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    for name, var in (('ijepa', 'IJEPA_VITH14'), ('dseq', 'DSEQ_VITH14')):  # both, at once
        assert f'released.{name} reads its encoder from the environment variable {var}' in \
            proc.stderr
    assert os.listdir(tmp_path / 'work') == ['suite_runner.lock'] or \
        not os.listdir(tmp_path / 'work')


def test_the_tiny_preset_exports_and_runs_its_baseline_everywhere(tmp_path):
    out = run_tool('run_suite.py', '--preset', 'tiny', '--dry-run', '--work-dir', str(tmp_path),
                   env=dict(os.environ))
    commands = [line.strip()[2:] for line in out.splitlines() if line.strip().startswith('$ ')]
    (export,) = [c for c in commands if 'convert_checkpoint.py' in c and 'pretrain_dseq' in c]
    assert export.endswith(f'{tmp_path}/export_dseq/dseq_dseq_layout.pth.tar --to dseq')
    (clevr,) = [c for c in commands if f'{tmp_path}/clevr_count_dseq ' in c]
    assert clevr.endswith(f'model.backbone.init_cfg.checkpoint={tmp_path}/export_dseq/'
                          'dseq_dseq_layout.pth.tar')
    preset = load_preset(osp.join(ROOT, 'configs', 'suite', 'tiny.py'))
    dinov2 = [c for c in commands if c.split('--work-dir ')[-1].split()[0].endswith('_dinov2')]
    assert len(dinov2) == len(preset['transfer'])
    weights = osp.join(ROOT, preset['synthetic']['dinov2']['root'])
    assert all(c.endswith('pretrain_method=dinov2 model.backbone.num_reg_tokens=4 '
                          'model.backbone.layer_scale_init=1e-05 '
                          f'model.backbone.init_cfg.checkpoint={weights}') for c in dinov2)


def test_a_baseline_of_another_width_runs_only_the_tasks_it_names(tmp_path):
    weights = tmp_path / 'dinov2'
    weights.mkdir()
    preset = tmp_path / 'preset.py'
    preset.write_text(f"""_base_ = '{RELEASED}'
baselines = dict(_delete_=True, dinov2=dict(
    path='{weights}', like='dseq', tasks=['clevr_count', 'in1k_knn'],
    backbone=dict(arch='l', num_reg_tokens=4, layer_scale_init=1e-5)))
""")
    env = dict(os.environ, IJEPA_VITH14='i.pth', DSEQ_VITH14='d.pth')
    out = run_tool('run_suite.py', str(preset), '--dry-run', '--work-dir', str(tmp_path / 'w'),
                   env=env)
    ran = [line.split('--work-dir ')[1].split()[0] for line in out.splitlines()
           if line.strip().startswith('$ ') and '_dinov2' in line]
    assert ran == [f'{tmp_path}/w/clevr_count_dinov2', f'{tmp_path}/w/in1k_knn_dinov2']
    assert len(ran) == sum(1 for s in suite_stages(str(preset)) if s.endswith('_dinov2'))


def test_a_stage_done_with_another_file_says_so(tmp_path, capsys):
    from suite.results import DONE
    from suite.runner import Suite
    stage = tmp_path / 'coco_dseq'
    stage.mkdir()
    (stage / DONE).write_text('{"checkpoint": "old.pth", "config": "c.py"}')
    suite = Suite(dict(pretrain={}, transfer=[], gpus=0), str(tmp_path))
    record = suite.stage('coco_dseq', lambda *_: {}, checkpoint='new.pth', config='c.py')
    assert record['checkpoint'] == 'old.pth'  # kept, not run again
    said = capsys.readouterr().out
    assert 'coco_dseq: warning: done with checkpoint=old.pth, the preset now gives new.pth' in said
    assert 'config=' not in said
