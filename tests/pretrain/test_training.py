"""Real pretraining runs through tools/train.py: loss, checkpoints, resume, two ranks, failures."""
import json
import os
import statistics
import subprocess
import sys
import time

import pytest
import torch

from backbones import JEPAViT
from backbones.safe_checkpoint import load_from_local_safely
from tests.helpers import (PRETRAIN_SMOKE, ROOT, checkpoint_tensors, config_with_hooks,
                           last_run_logged, logged_scalars, pretraining_steps, run_pretraining)
from suite.compute import pretraining_cost


@pytest.mark.slow
def test_loss_decreases_and_the_checkpoint_loads_into_the_backbone(synthetic_imagenet, tmp_path):
    proc = run_pretraining(tmp_path, synthetic_imagenet, 'train_cfg.max_epochs=10',
                           'default_hooks.logger.interval=1')
    assert "1 unreadable images were skipped" in proc.stdout + proc.stderr
    steps = pretraining_steps(PRETRAIN_SMOKE, images=64, epochs=10)  # the readable images
    losses = last_run_logged(tmp_path)
    assert len(losses) == steps
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    # at the first iteration, then every 50th: one value
    ranks = last_run_logged(tmp_path, 'target_rank')
    assert len(ranks) == steps and len(set(ranks)) == 1 and 1 < ranks[0] < 64

    ckpt = str(tmp_path / f'iter_{steps}.pth')
    state = load_from_local_safely(ckpt)['state_dict']
    for encoder in ('target', 'context'):
        vit = JEPAViT(embed_dim=64, depth=4, num_heads=4, img_size=96, patch_size=8,
                      out_indices=(3,), init_cfg=dict(type='Pretrained', checkpoint=ckpt,
                                                      encoder=encoder))
        vit.init_weights()
        for name, value in vit.state_dict().items():
            assert torch.equal(value, state[f'{encoder}_encoder.{name}']), name
    assert not torch.equal(state['target_encoder.blocks.0.attn.qkv.weight'],
                           state['context_encoder.blocks.0.attn.qkv.weight'])

    release = str(tmp_path / 'release.pth.tar')
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'convert_checkpoint.py'), ckpt,
                    release, '--to', 'ijepa'], check=True, cwd=ROOT)
    converted = torch.load(release, weights_only=True)
    assert set(converted) == {'encoder', 'predictor', 'target_encoder', 'epoch'}
    assert torch.equal(converted['predictor']['module.mask_token'], state['predictor.mask_token'])
    vit = JEPAViT(embed_dim=64, depth=4, num_heads=4, img_size=96, patch_size=8, out_indices=(3,),
                  init_cfg=dict(type='Pretrained', checkpoint=release))
    vit.init_weights()
    assert torch.equal(vit.norm.weight, state['target_encoder.norm.weight'])


def test_effective_rank():
    from pretrain.hooks import effective_rank
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(20000, 16, generator=g)
    assert 15 < effective_rank(iso) <= 16
    assert effective_rank(100 * iso + 3) == pytest.approx(effective_rank(iso), rel=1e-4)
    line = torch.randn(500, 1, generator=g) * torch.randn(1, 16, generator=g)
    assert effective_rank(line.view(50, 10, 16)) == pytest.approx(1.0, abs=1e-4)
    two = iso[:, :2] @ torch.tensor([[1.0] * 8 + [0.0] * 8, [0.0] * 8 + [1.0] * 8])  # 2 equal axes
    assert 1.9 < effective_rank(two) < 2.0


@pytest.mark.slow
def test_killed_and_resumed_run_ends_with_identical_weights(synthetic_imagenet, tmp_path):
    common = ('train_cfg.max_epochs=4', 'default_hooks.checkpoint.interval=3')
    run_pretraining(tmp_path / 'straight', synthetic_imagenet, *common)
    start = time.perf_counter()
    killed = run_pretraining(
        tmp_path / 'killed', synthetic_imagenet, *common, check=False,
        config=config_with_hooks(tmp_path, "dict(type='KillAtIterHook', at=10)"))
    assert killed.returncode != 0
    assert sorted(f for f in os.listdir(tmp_path / 'killed') if f.endswith('.pth')) == \
        ['iter_6.pth', 'iter_9.pth']  # max_keep_ckpts=2
    resumed = run_pretraining(tmp_path / 'killed', synthetic_imagenet, *common, args=['--resume'])
    assert 'resumed epoch: 2, iter: 9' in resumed.stdout + resumed.stderr  # 4 steps an epoch
    elapsed = time.perf_counter() - start
    straight, again = (load_from_local_safely(str(tmp_path / run / 'iter_16.pth'))['state_dict']
                       for run in ('straight', 'killed'))
    assert straight.keys() == again.keys()
    for name in straight:
        assert torch.equal(straight[name], again[name]), name
    # what the leaderboard's compute table reads of the job, whose two runs both count
    cost = pretraining_cost(str(tmp_path / 'killed' / 'iter_16.pth'))
    speeds = [row['images_per_s'] for row in logged_scalars(tmp_path / 'killed')
              if 'images_per_s' in row]
    assert (cost['epochs'], cost['device']) == (4, 'CPU')
    assert cost['images_per_s'] == statistics.median(speeds)
    assert 0 < cost['device_hours'] * 3600 <= elapsed + 2  # the log's stamps are whole seconds


@pytest.mark.slow
def test_two_gloo_ranks_finish_with_identical_weights(synthetic_imagenet, tmp_path):
    run_pretraining(tmp_path, synthetic_imagenet, 'train_cfg.max_epochs=2',
                    config=config_with_hooks(tmp_path, "dict(type='DumpWeightsHook')"),
                    launcher=('dist_pretrain.sh', '2'))
    a = torch.load(tmp_path / 'rank0.pth', weights_only=True)
    b = torch.load(tmp_path / 'rank1.pth', weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    norm = a['target_encoder.norm.weight']
    assert not torch.equal(norm, torch.ones_like(norm))


@pytest.mark.slow
def test_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint(synthetic_imagenet, tmp_path):
    proc = run_pretraining(
        tmp_path, synthetic_imagenet, 'default_hooks.checkpoint.interval=3', check=False,
        config=config_with_hooks(tmp_path, "dict(type='PoisonAtIterHook', at=5)"))
    assert proc.returncode != 0
    assert 'non-finite loss' in proc.stderr and 'holds finite weights' in proc.stderr
    state = load_from_local_safely(str(tmp_path / 'iter_3.pth'))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert not os.path.exists(tmp_path / 'iter_6.pth')


@pytest.mark.slow
def test_persistent_data_workers_stop_when_training_ends(synthetic_imagenet, tmp_path):
    # Left running, pinned-memory workers hold the finished process for 5 s each at exit (on GPU).
    # 2 epochs: the cosine, which ends with training, starts after the first (warm-up) one
    run_pretraining(tmp_path, synthetic_imagenet, 'train_cfg.max_epochs=2',
                    'train_dataloader.persistent_workers=True',
                    config=config_with_hooks(tmp_path, "dict(type='CountChildProcessesHook')"))
    with open(tmp_path / 'children.json') as f:
        assert json.load(f) == dict(training=2, ended=0)  # the smoke config's 2 workers


def _finite(path) -> bool:
    return all(torch.isfinite(t).all() for t in checkpoint_tensors(path).values()
               if t.is_floating_point())


@pytest.mark.slow
def test_weights_made_non_finite_by_a_step_are_never_saved(synthetic_imagenet, tmp_path):
    # lr 1e6: AdamW's decay multiplies the weights by 1 - lr * wd each step until they overflow
    # while the loss of the step before is still finite.
    proc = run_pretraining(tmp_path, synthetic_imagenet, 'optim_wrapper.optimizer.lr=1e6',
                           'default_hooks.checkpoint.interval=1',
                           'default_hooks.checkpoint.max_keep_ckpts=-1', check=False)
    assert proc.returncode != 0
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert saved and all(_finite(tmp_path / f) for f in saved)
    last = max(saved, key=lambda f: int(f[5:-4]))
    assert 'weight and optimiser tensors are inf or NaN at iteration' in proc.stderr
    assert f'The last checkpoint, {tmp_path / last}, holds finite weights' in proc.stderr
    assert 'non-finite loss' not in proc.stderr  # stopped at the save, not one step later


@pytest.mark.slow
def test_a_resume_that_changes_the_batch_or_the_model_is_refused(synthetic_imagenet, tmp_path):
    common = ('train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=4')
    run_pretraining(tmp_path, synthetic_imagenet, *common, config=config_with_hooks(
        tmp_path, "dict(type='KillAtIterHook', at=6)"), check=False)
    batch = run_pretraining(tmp_path, synthetic_imagenet, *common, 'train_dataloader.batch_size=8',
                            args=['--resume'], check=False)
    assert batch.returncode != 0
    assert 'the run has changed:\n  batch size per process: 16 in the checkpoint, 8 now' in \
        batch.stderr
    width = run_pretraining(tmp_path, synthetic_imagenet, *common, 'model.encoder.embed_dim=96',
                            args=['--resume', '--resume-changed'], check=False)
    assert width.returncode != 0
    assert 'the model has changed:\n  context_encoder.pos_embed: (1, 144, 64) in the ' \
        'checkpoint, (1, 144, 96) now' in width.stderr
    threads = 1 if torch.get_num_threads() > 1 else 2
    anyway = run_pretraining(tmp_path, synthetic_imagenet, *common, 'train_dataloader.batch_size=8',
                             args=['--resume', '--resume-changed'],
                             env=dict(OMP_NUM_THREADS=str(threads)))
    out = anyway.stdout + anyway.stderr
    assert ('resuming with a changed run (batch size per process: 16 in the checkpoint, 8 now)'
            in out)
    assert f'this run has {threads}: CPU results now differ' in out
