"""Checkpoints and results folders are data, never code: config text found in them is read without
running (engine.config_data), a checkpoint's meta['config'] is dropped before mmengine's resume
would execute it, and the loader refuses non-finite or cut-short files, naming them."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests.helpers import ROOT, run_pretraining

from backbones.safe_checkpoint import load_from_local_safely
from engine.config_data import config_from_text, read_config_file
from suite import results
from suite.compute import pretraining_cost

KNN_SMOKE = osp.join(ROOT, 'configs', 'knn', 'knn_dseq-vittiny_synthimagenet.py')


def payloads(marker: str) -> list:
    """Config lines that, run, create ``marker``: each a way a file could try to run code."""
    touch = f"__import__('pathlib').Path({marker!r}).touch()"
    return [f'x = {touch}',
            f'import pathlib\npathlib.Path({marker!r}).touch()',
            f"model = dict(type='X', hook={touch})",
            f'y = [p for p in [{touch}]]',
            f'z = f"{{{touch}}}"',
            f"w = dict(**{{'a': {touch}}})",
            f'v = (lambda: {touch})()',
            f'u = {{{touch}: 1}}',
            'def f():\n    return 1\nt = f()',
            f"exec({touch!r})"]


def test_config_text_is_read_as_mmengine_wrote_it(tmp_path):
    config = dict(model=dict(backbone=dict(arch='b', img_size=(224, 224), drop=-0.5),
                             heads=[dict(type='A', loss=None), dict(type='B', on=True)]),
                  keys={3: 4, 'a-b': 'x'}, name='run', lr=1e-3)
    path = str(tmp_path / 'config.py')
    Config(config).dump(path)
    assert read_config_file(path) == Config.fromfile(path).to_dict() == config
    assert config_from_text('a = dict(b=inf, c=-inf)', 'x')['a'] == dict(b=float('inf'),
                                                                          c=-float('inf'))


@pytest.mark.parametrize('index', range(len(payloads(''))))
def test_no_payload_in_a_config_text_runs_and_each_is_named(tmp_path, index):
    marker = str(tmp_path / 'ran')
    text = 'kept = dict(a=1)\n' + payloads(marker)[index] + '\nafter = [1, 2]\n'
    with pytest.warns(UserWarning, match=r'source\.py, line \d+: ignored .*never run') as caught:
        data = config_from_text(text, 'source.py')
    assert not osp.exists(marker)
    assert data['kept'] == dict(a=1) and data['after'] == [1, 2]
    assert not {'x', 'model', 'y', 'z', 'w', 'v', 'u', 't'} & set(data)
    assert len(caught) >= 1


def test_mmengine_would_run_each_payload(tmp_path):
    for index, payload in enumerate(payloads(str(tmp_path / 'ran'))):
        try:
            Config.fromstring(payload + '\n', '.py')
        except Exception:  # mmengine's own checks after the code ran
            pass
        # a function and its call (8) touch nothing; a bare import (1) mmengine 0.10.7 refuses
        # on some interpreters (pyenv's 3.11.7) and runs on others (Debian's 3.11.2): either way
        if index != 1:
            assert osp.exists(tmp_path / 'ran') == (index != 8), payload
        if osp.exists(tmp_path / 'ran'):
            os.remove(tmp_path / 'ran')


def test_a_text_that_is_not_python_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r'run/vis_data/config.py: not a config .*line 1'):
        config_from_text('model = dict(\n', 'run/vis_data/config.py')


def fake_run(work_dir, payload: str, scalars: dict) -> str:
    """A run folder of a transfer run whose saved config ends in ``payload``."""
    run = work_dir / '20260101_000000'
    (run / 'vis_data').mkdir(parents=True)
    config = dict(pretrain_method='dseq', randomness=dict(seed=0), train_cfg=dict(max_epochs=3),
                  model=dict(backbone=dict(type='JEPAViT', arch='s', patch_size=16)),
                  report=dict(task='CLEVR Count', metrics={'top1': ('top-1', 1)}))
    Config(config).dump(str(run / 'vis_data' / 'config.py'))
    with open(run / 'vis_data' / 'config.py', 'a') as f:
        f.write(payload + '\n')
    with open(run / 'vis_data' / 'scalars.json', 'w') as f:
        f.write(json.dumps(dict(scalars, step=1)) + '\n')
    return str(work_dir)


def test_the_leaderboard_and_compute_table_read_results_folders_without_running_them(tmp_path):
    marker = str(tmp_path / 'ran')
    work_dir = fake_run(tmp_path / 'count_dseq', payloads(marker)[0], {'top1': 61.0})
    with pytest.warns(UserWarning, match='config.py, line .*ignored x'):
        found = results.collect([work_dir])
    assert found.table == {('ViT-S/16', 'CLEVR Count', 'top-1'): {'dseq': [61.0]}}
    with pytest.warns(UserWarning, match='config.py, line .*ignored x'):
        cost = pretraining_cost(osp.join(work_dir, 'iter_10.pth'))
    assert cost['epochs'] == 3
    assert not osp.exists(marker)


def test_a_results_folder_naming_a_function_as_a_type_is_refused_unbuilt(tmp_path):
    from suite.leaderboard import write_all
    marker = tmp_path / 'ran'
    work_dir = fake_run(tmp_path / 'count_dseq', '', {'top1': 61.0})
    path = osp.join(work_dir, '20260101_000000', 'vis_data', 'config.py')
    config = read_config_file(path)
    config['model']['backbone'] = dict(type='subprocess.Popen', args=['touch', str(marker)])
    Config(config).dump(path)
    with pytest.raises(ValueError, match=r"model.backbone.type = 'subprocess.Popen' is not a class "
                                         'of the model registry'):
        write_all([work_dir], str(tmp_path / 'board'))
    assert not marker.exists()


@pytest.fixture(scope='module')
def pretraining_checkpoint(synthetic_imagenet, tmp_path_factory) -> str:
    """The last checkpoint of two epochs of the I-JEPA smoke pretraining (one is its warm-up)."""
    work = tmp_path_factory.mktemp('never_code') / 'work'
    run_pretraining(work, synthetic_imagenet, 'train_cfg.max_epochs=2')
    with open(work / 'last_checkpoint') as f:
        return f.read().strip()


def with_meta(checkpoint: str, path: str, **meta) -> str:
    """``checkpoint`` saved at ``path`` with ``meta`` updated."""
    ckpt = torch.load(checkpoint, weights_only=False)
    ckpt['meta'].update(meta)
    torch.save(ckpt, path)
    return path


@pytest.mark.slow
def test_resume_never_runs_the_config_text_of_a_checkpoint(pretraining_checkpoint, tmp_path,
                                                           synthetic_imagenet):
    marker = str(tmp_path / 'ran')
    planted = with_meta(pretraining_checkpoint, str(tmp_path / 'planted.pth'),
                        config=payloads(marker)[0])
    proc = run_pretraining(tmp_path / 'resumed', synthetic_imagenet, 'train_cfg.max_epochs=3',
                           args=['--resume', planted])
    assert not osp.exists(marker)
    assert f"{planted}: ignored meta['config']" in proc.stderr
    assert re.search(r'resumed epoch: \d+, iter: 8\b', proc.stdout + proc.stderr)


def test_the_picture_tools_read_the_checkpoints_config_as_data(pretraining_checkpoint, tmp_path):
    from figures.checkpoint_regions import load_model
    marker = str(tmp_path / 'ran')
    ckpt = torch.load(pretraining_checkpoint, weights_only=False)
    planted = with_meta(pretraining_checkpoint, str(tmp_path / 'planted.pth'),
                        cfg=ckpt['meta']['cfg'] + payloads(marker)[0] + '\n')
    with pytest.warns(UserWarning, match=r'planted.pth \(meta.cfg\), line \d+: ignored x'):
        model, cfg, _ = load_model(planted)
    assert not osp.exists(marker)
    assert cfg.model.type == type(model).__name__ == 'IJEPA'
    torch.testing.assert_close(model.state_dict(), ckpt['state_dict'])


def test_the_picture_tools_build_registered_classes_only(pretraining_checkpoint, tmp_path):
    from figures.checkpoint_regions import load_model
    marker = tmp_path / 'ran'
    ckpt = torch.load(pretraining_checkpoint, weights_only=False)
    data = config_from_text(ckpt['meta']['cfg'], 'cfg')
    data['model']['data_preprocessor'] = dict(type='subprocess.Popen', args=['touch', str(marker)])
    text = Config(data).pretty_text
    planted = with_meta(pretraining_checkpoint, str(tmp_path / 'planted.pth'), cfg=text)
    with pytest.raises(ValueError, match=r"model.data_preprocessor.type = 'subprocess.Popen'"):
        load_model(planted)
    assert not marker.exists()


def test_a_checkpoint_with_a_nan_is_refused_naming_the_file_and_tensors(tmp_path):
    weights = {'patch_embed.proj.weight': torch.zeros(2, 3),
               'blocks.0.attn.qkv.weight': torch.tensor([1.0, float('nan')]),
               'blocks.1.mlp.fc1.bias': torch.tensor([-torch.inf]), 'step': torch.tensor(3)}
    path = str(tmp_path / 'diverged.pth')
    torch.save(dict(state_dict=weights, meta=dict(epoch=1)), path)
    with pytest.raises(ValueError, match=rf'{path}: 2 of its tensors hold inf or NaN values '
                       r'\(state_dict.blocks.0.attn.qkv.weight, '
                       r'state_dict.blocks.1.mlp.fc1.bias\)'):
        load_from_local_safely(path)


def test_a_cut_short_checkpoint_is_named(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match=f'cannot read checkpoint {path}: .*cut short'):
        load_from_local_safely(str(path))


@pytest.mark.slow
def test_knn_refuses_a_nan_encoder_before_evaluating(tmp_path):
    from mmengine.registry import MODELS

    import backbones  # noqa: F401  (registers the ViT)
    from synthetic import make_imagenet
    root = str(tmp_path / 'imagenet')
    make_imagenet(root, num_train=16, num_val=4, seed=0)
    encoder = MODELS.build(dict(Config.fromfile(KNN_SMOKE).model.backbone, init_cfg=None))
    weights = encoder.state_dict()
    weights['blocks.1.norm1.weight'][3] = float('nan')
    path = str(tmp_path / 'nan_encoder.pth')
    torch.save(weights, path)
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'test.py'), KNN_SMOKE, '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', f'model.backbone.init_cfg.checkpoint={path}'],
        cwd=ROOT, env=dict(os.environ, SYNTH_IMAGENET_ROOT=root), capture_output=True, text=True)
    assert proc.returncode != 0
    assert f'{path}: 1 of its tensors hold inf or NaN values (blocks.1.norm1.weight)' in proc.stderr
    assert not glob.glob(str(tmp_path / 'work' / '*' / '*.json'))  # no test results written


def test_a_checkpoint_from_another_scheme_is_checked_when_the_runner_loads_it():
    from types import SimpleNamespace

    from engine.checkpoint import SafeCheckpointHook
    url = 'https://example.com/encoder.pth'  # read by mmengine's own loader, not the safe one
    runner = SimpleNamespace(_load_from=url, _resume=False)
    diverged = dict(meta={}, state_dict={'w': torch.tensor([1.0, float('nan')])})
    with pytest.raises(ValueError, match=f'{url}: 1 of its tensors hold inf or NaN'):
        SafeCheckpointHook().after_load_checkpoint(runner, diverged)
    planted = dict(meta=dict(config="x = __import__('os')"), state_dict={'w': torch.zeros(2)})
    with pytest.warns(UserWarning, match=rf"{url}: ignored meta\['config'\]"):
        SafeCheckpointHook().after_load_checkpoint(runner, planted)
    assert 'config' not in planted['meta']
