"""benchmarks/dense_probes.py: each model's training iterations timed and printed against the
first's, here on the tiny smoke configs of the same two tasks."""
import math
import os.path as osp

import pytest
import torch

from tests.helpers import ROOT
from benchmarks.dense_probes import (DENSE_MODELS, DenseModel, benchmark_dense_probes,
                                     build_trainable, depth_batch, segmentation_batch)

TINY = [DenseModel('upernet', 'configs/upernet/upernet_ijepa-vittiny_40iter_synthade.py',
                   segmentation_batch),
        DenseModel('linear', 'configs/seglinear/seglinear_ijepa-vittiny_40iter_synthade.py',
                   segmentation_batch)]


def test_the_default_models_are_the_vitb16_recipes():
    assert [osp.basename(m.config) for m in DENSE_MODELS] == [
        'upernet_ijepa-vitb16_160k_ade20k.py', 'seglinear_ijepa-vitb16_40k_ade20k.py',
        'depthlinear_ijepa-vitb16_38k_nyu.py', 'depthlinear4_ijepa-vitb16_38k_nyu.py']
    assert all(osp.isfile(osp.join(ROOT, m.config)) for m in DENSE_MODELS)


@pytest.mark.parametrize('config, batch', [
    (TINY[1].config, segmentation_batch),
    ('configs/depthlinear/depthlinear_ijepa-vittiny_40iter_synthnyu.py', depth_batch)])
def test_a_timed_iteration_trains_only_what_the_config_trains(config, batch):
    """An iteration changes the linear probe's head and leaves its frozen encoder as it was."""
    model, optim_wrapper = build_trainable(config, 64, torch.device('cpu'))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train_step(batch(2, 64), optim_wrapper)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith('decode_head.') for k in changed)


def test_each_model_is_timed_and_compared_with_the_first(capsys):
    results = benchmark_dense_probes(size=64, batch=2, iters=1, models=TINY)
    assert list(results) == ['upernet', 'linear']
    assert all(r['seconds'] > 0 and math.isnan(r['peak_gib']) for r in results.values())
    assert results['linear']['trainable_m'] < results['upernet']['trainable_m']
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith('dense transfer, one training iteration') and len(lines) == 3
    ratio = results['linear']['seconds'] / results['upernet']['seconds']
    assert lines[1].endswith('x1.000 the time of the first')
    assert lines[2].startswith('  linear: ') and lines[2].endswith(f'x{ratio:.3f} the time of '
                                                                    'the first')
