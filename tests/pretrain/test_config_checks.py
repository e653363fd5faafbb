"""Refusals of pretraining settings that would otherwise fail late or silently: DSeq-JEPA's
``min_area`` outside [0, 1), and a warm-up that does not end before the run does."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from engine.schedules import check_param_schedulers
from pretrain.dseq import DSeqJEPA
from pretrain.regions import select_regions

from tests.helpers import ROOT, run_pretraining

TINY = dict(encoder=dict(embed_dim=32, depth=2, num_heads=2, img_size=32, patch_size=8),
            predictor=dict(width=16, depth=1))


@pytest.mark.parametrize('min_area', [2.0, 1.0, -1, -0.01, math.nan, math.inf, '0.15', True])
def test_min_area_outside_its_range_is_refused_at_construction(min_area):
    with pytest.raises(ValueError, match=r'min_area must be a number in \[0, 1\).*got'):
        DSeqJEPA(**TINY, min_area=min_area)
    with pytest.raises(ValueError, match=r'min_area must be a number in \[0, 1\)'):
        select_regions(torch.rand(1, 4, 4), 3, min_area)


@pytest.mark.parametrize('min_area', [0, 0.0, 0.15, 0.999])
def test_min_area_in_its_range_is_accepted(min_area):
    assert DSeqJEPA(**TINY, min_area=min_area).min_area == min_area
    assert select_regions(torch.rand(1, 4, 4), 3, min_area).shape == (1, 3, 16)


# --- the warm-up against the run's length ---------------------------------------------------------

def test_a_warmup_as_long_as_the_run_names_the_keys():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', 'ijepa_vitb16_in1k.py'))
    assert cfg.warmup_epochs == 15
    cfg.merge_from_dict({'train_cfg.max_epochs': 8})
    with pytest.raises(ValueError) as info:
        check_param_schedulers(cfg)
    message = str(info.value)
    for part in ('warmup_epochs=15 >= train_cfg.max_epochs=8', 'param_scheduler[1]',
                 'CosineAnnealingLR'):
        assert part in message, (part, message)
    cfg.merge_from_dict({'train_cfg.max_epochs': 16})
    check_param_schedulers(cfg)


def test_the_smoke_schedule_names_its_own_begin_not_the_stale_variable():
    # the smoke config ends its warm-up after epoch 1, whatever warmup_epochs (15) says
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain',
                                   'ijepa_vitmicro8_10e_synthimagenet.py'))
    check_param_schedulers(cfg)
    cfg.merge_from_dict({'train_cfg.max_epochs': 1})
    with pytest.raises(ValueError, match=r'param_scheduler\[1\]\.begin=1 >= '
                                         r'train_cfg\.max_epochs=1') as info:
        check_param_schedulers(cfg)
    assert 'warmup_epochs' not in str(info.value)


def test_tools_train_refuses_it_before_the_runner_starts(synthetic_imagenet, tmp_path):
    proc = run_pretraining(tmp_path / 'work', synthetic_imagenet, 'train_cfg.max_epochs=1',
                           check=False)
    assert proc.returncode != 0
    assert 'param_scheduler[1].begin=1 >= train_cfg.max_epochs=1' in proc.stderr
    assert 'end should be larger than begin' not in proc.stderr
    assert not (tmp_path / 'work').exists()  # refused before the runner made its work dir


def test_iteration_schedules_are_checked_against_their_own_ends():
    cfg = Config(dict(
        warmup_iters=50, max_iters=40, train_cfg=dict(type='IterBasedTrainLoop', max_iters=40),
        param_scheduler=[dict(type='LinearLR', by_epoch=False, begin=0, end=50),
                         dict(type='PolyLR', by_epoch=False, begin=50, end=40)]))
    with pytest.raises(ValueError, match=r'warmup_iters=50 >= max_iters=40'):
        check_param_schedulers(cfg)


def test_schedules_that_mmengine_runs_pass():
    for name in ('pretrain/dseq_vitb16_in1k.py', 'pretrain/dseq_vittiny_synthclevr.py',
                 'linear/linear_ijepa-vitb16_28e_in1k.py',
                 'linear/linear_ijepa-vitb16_fast_in1k.py',
                 'upernet/upernet_ijepa-vittiny_40iter_synthade.py',
                 'maskrcnn/maskrcnn_ijepa-vittiny_2e_synthcoco.py'):
        check_param_schedulers(Config.fromfile(osp.join(ROOT, 'configs', name)))
    # a cosine that begins where a shortened run ends is mmengine's to skip (a resumed run's)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'maskrcnn',
                                   'maskrcnn_ijepa-vittiny_2e_synthcoco.py'))
    cfg.merge_from_dict({'train_cfg.max_epochs': 1})
    check_param_schedulers(cfg)
