"""The pretraining runtime without per-iteration host waits: non-finite steps skipped on the device,
losses read back only where they are logged or saved, and the Runner-against-bare-step benchmark."""
import copy
import json
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests.helpers import PRETRAIN_SMOKE
from pretrain import IJEPA
from pretrain.hooks import PretrainRuntimeInfoHook, participation_ratio, token_covariance
from pretrain.optim import BF16OptimWrapper
from benchmarks.pretrain import draw_batches
from benchmarks.host_reads import HostReadCounter


def _runner(work_dir, data_root, **options) -> Runner:
    """The smoke pretraining config in this process: 4 iterations an epoch on the synthetic
    ImageNet (64 readable images, batch 16), no data workers."""
    cfg = Config.fromfile(PRETRAIN_SMOKE)
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': data_root,
                         'train_dataloader.num_workers': 0, 'work_dir': str(work_dir),
                         'log_level': 'WARNING', 'experiment_name': str(work_dir), **options})
    return Runner.from_cfg(cfg)


class _NaNLossAt(Hook):
    """Makes the loss of iteration ``at`` NaN (the weights stay finite) and keeps a copy of the
    trained state as it was before that iteration."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train(self, runner) -> None:
        model = runner.model
        loss, hook = model.loss, self

        def nan_loss(images, masks):
            out = loss(images, masks)
            if model.step == hook.at:
                out['loss'] = out['loss'] * float('nan')
            return out
        model.loss = nan_loss

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at:
            self.before = copy.deepcopy(runner.model.state_dict())
            self.optimizer = copy.deepcopy(runner.optim_wrapper.optimizer.state_dict())


def _trained(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith('target_encoder.')}


def test_a_nan_loss_never_reaches_the_weights_and_stops_the_run_before_the_next_save(
        synthetic_imagenet, tmp_path):
    # checkpoints at iterations 4 and 8, log lines at 4 and 5: the NaN at iteration 6 (index 5)
    # is read back at iteration 8, before its checkpoint; iteration 7 was skipped too
    runner = _runner(tmp_path, synthetic_imagenet, **{
        'train_cfg.max_epochs': 2, 'default_hooks.checkpoint.interval': 4})
    hook = _NaNLossAt(5)
    runner.register_hook(hook)
    with pytest.raises(FloatingPointError, match=r'non-finite loss in 1 iteration from iteration 6'
                       r'.*The last checkpoint, .*iter_4.pth, holds finite weights'):
        runner.train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_4.pth']
    state = runner.model.state_dict()
    for name, value in _trained(hook.before).items():  # context encoder, predictor: untouched
        assert torch.equal(value, state[name]), name
    after = runner.optim_wrapper.optimizer.state_dict()['state']
    for index, saved in hook.optimizer['state'].items():  # moments and step counts too
        for key, value in saved.items():
            assert torch.equal(value, after[index][key]), (index, key)
    assert all(torch.isfinite(v).all() for k, v in state.items() if k.startswith('target_encoder'))
    saved = torch.load(tmp_path / 'iter_4.pth', weights_only=False)
    assert all(torch.isfinite(v).all() for v in saved['state_dict'].values()
               if v.is_floating_point())


def test_the_guard_refuses_an_optimizer_that_cannot_skip_on_the_device():
    params = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(TypeError, match=r"AdamW\(fused=False\) cannot do.*fused=True"):
        BF16OptimWrapper(torch.optim.AdamW(params))
    assert BF16OptimWrapper(torch.optim.AdamW(params, fused=True)).non_finite_steps is None


def test_fused_adamw_follows_the_default_adamw():
    torch.manual_seed(0)
    model = IJEPA(encoder=dict(embed_dim=32, depth=2, num_heads=2, img_size=96, patch_size=8),
                  predictor=dict(width=16, depth=1))
    models = [model, copy.deepcopy(model)]
    opts = [torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3,
                              weight_decay=0.04, fused=fused)
            for m, fused in zip(models, (None, True))]
    opts[1].found_inf = torch.zeros(())  # as BF16OptimWrapper sets it: nothing skipped
    for images, masks in draw_batches(6, 4, 96, 8, torch.device('cpu')):
        for m, opt in zip(models, opts):
            m.loss(images, masks)['loss'].backward()
            opt.step()
            opt.zero_grad()
            m.update_target(0.99)
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def _scalars(work_dir) -> list:
    run = sorted(d for d in os.listdir(work_dir) if d[:8].isdigit())[-1]
    with open(os.path.join(work_dir, run, 'vis_data', 'scalars.json')) as f:
        return [json.loads(line) for line in f]


def test_logged_losses_are_those_of_mmengines_runtime_info_hook(synthetic_imagenet, tmp_path):
    # 12 iterations, a line every 5 and at the end of the first epoch, a checkpoint at 7 and 12
    common = {'train_cfg.max_epochs': 3, 'default_hooks.logger.interval': 5,
              'default_hooks.checkpoint.interval': 7}
    ours = _runner(tmp_path / 'ours', synthetic_imagenet, **common)
    plain = _runner(tmp_path / 'plain', synthetic_imagenet, **common,
                    **{'default_hooks.runtime_info': dict(type='RuntimeInfoHook')})
    for runner in (ours, plain):
        runner.train()
    a, b = _scalars(tmp_path / 'ours'), _scalars(tmp_path / 'plain')
    assert [r['step'] for r in a] == [r['step'] for r in b] == [4, 5, 10]
    for line, reference in zip(a, b):
        assert line.pop('nonfinite_steps') == 0
        for key in ('time', 'data_time', 'images_per_s', 'eta'):
            line.pop(key, None), reference.pop(key, None)
        assert line == reference
    for key in ('train/loss', 'train/lr', 'train/ema_momentum'):
        assert list(ours.message_hub.get_scalar(key).data[0]) == \
            list(plain.message_hub.get_scalar(key).data[0]), key
    for step in (7, 12):  # the MessageHub saved in each checkpoint
        hubs = [torch.load(tmp_path / run / f'iter_{step}.pth', weights_only=False)['message_hub']
                for run in ('ours', 'plain')]
        loss = [h['log_scalars']['train/loss'].data[0] for h in hubs]
        assert list(loss[0]) == list(loss[1]) and len(loss[0]) == step


class _CountHostReads(Hook):
    """Counts each iteration's reads of device values from its last before-hook to its last
    after-hook (the data preprocessor, the step, every after-hook)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.reads, self.reads_host, self.padded = {}, {}, []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.padded.append(data_batch['data_samples']['context_valid'] is not None)
        self.counter = HostReadCounter().__enter__()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.counter.__exit__(None, None, None)
        self.reads[runner.iter] = self.counter.reads
        self.reads_host[runner.iter] = PretrainRuntimeInfoHook.reads_host(runner, batch_idx)


class _KeepTargetCovariances(Hook):
    """Keeps the targets' covariance at the iterations where a TargetRankHook of ``interval``
    computes it, right after that hook."""

    priority = 56

    def __init__(self, interval: int) -> None:
        self.interval, self.covariances = interval, []

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter == 0 or self.every_n_train_iters(runner, self.interval):
            images = runner.model.data_preprocessor(data_batch, False)['inputs']
            self.covariances.append(token_covariance(runner.model.target_tokens(images)))


def test_an_ijepa_iteration_reads_the_device_only_where_it_logs_or_saves(synthetic_imagenet,
                                                                         tmp_path):
    # 8 iterations of 16 images whose contexts differ in length (packed rows); lines at 4 (the end
    # of the first epoch), 5 and 8, a checkpoint at 6; the target rank at the first iteration and
    # every second one, its eigenvalues computed where a line is logged
    hooks = [dict(h, interval=2) if h['type'] == 'TargetRankHook' else h
             for h in Config.fromfile(PRETRAIN_SMOKE).custom_hooks]
    runner = _runner(tmp_path, synthetic_imagenet, **{'train_cfg.max_epochs': 2,
                                                      'default_hooks.checkpoint.interval': 6,
                                                      'custom_hooks': hooks})
    counter, targets = _CountHostReads(), _KeepTargetCovariances(2)
    runner.register_hook(counter)
    runner.register_hook(targets)
    runner.train()
    assert all(counter.padded)
    reading = [i for i, reads in counter.reads_host.items() if reads] + [0]
    assert sorted(reading) == [0, 3, 4, 5, 7]
    for i, reads in counter.reads.items():
        assert bool(reads) == (i in reading), (i, reads)
    # every rank, in order (iterations 1, 2, 4, 6 and 8), as computed where it is measured
    logged = list(runner.message_hub.get_scalar('train/target_rank').data[0])
    reference = [float(participation_ratio(c)) for c in targets.covariances]
    assert logged == pytest.approx(reference, rel=1e-6)
    assert len(logged) == 5


def test_the_runner_benchmark_runs_and_reports(tmp_path, capsys):
    from benchmarks.runner import benchmark_runner
    torch.manual_seed(0)
    result = benchmark_runner(PRETRAIN_SMOKE, batch=4, steps=2, repeats=2, warmup=1, workers=0,
                              log_interval=2, work_dir=str(tmp_path))
    out = capsys.readouterr().out
    # timed: iterations 2 to 5 of 8, lines at 2 and 4; host reads counted in 6 to 8, lines at 6
    # and 8 (the last)
    for line in ('ms/iteration', 'ms/step', 'overhead', 'ratio x', 'before its step',
                 'runner logging iterations: 2', 'runner other iterations: 2',
                 'host reads of device values per runner iteration, other',
                 'host reads of device values per bare step'):
        assert line in out, out
    assert result['runner_ms'] > 0 and result['bare_ms'] > 0
    assert result['ratio'] == pytest.approx(result['runner_ms'] / result['bare_ms'])
    assert result['syncs_other'] == result['syncs_bare'] == 0 and result['syncs_logging'] > 0
    assert not os.listdir(tmp_path)  # the photos and the work dir were temporary


def test_merged_parameter_groups_train_alike_and_load_a_state_saved_per_parameter():
    from mmengine.optim import DefaultOptimWrapperConstructor
    from pretrain.optim import TrainableOptimWrapperConstructor

    class PerParameter(TrainableOptimWrapperConstructor):  # the constructor before the merge
        def add_params(self, params, module, prefix='', *args, **kwargs):
            if any(p.requires_grad for p in module.parameters()):
                DefaultOptimWrapperConstructor.add_params(self, params, module, prefix, *args,
                                                          **kwargs)
    cfg = Config.fromfile(PRETRAIN_SMOKE)
    wrapper_cfg = {k: v for k, v in cfg.optim_wrapper.items()
                   if k not in ('constructor', 'paramwise_cfg')}
    torch.manual_seed(0)
    model = IJEPA(encoder=dict(embed_dim=32, depth=2, num_heads=2, img_size=96, patch_size=8),
                  predictor=dict(width=16, depth=1))
    models = [model, copy.deepcopy(model), copy.deepcopy(model)]
    merged, per_param, fresh = [c(wrapper_cfg, cfg.optim_wrapper.paramwise_cfg)(m) for c, m in zip(
        (TrainableOptimWrapperConstructor, PerParameter, TrainableOptimWrapperConstructor), models)]
    assert len(merged.optimizer.param_groups) == 2  # with and without weight decay
    assert len(per_param.optimizer.param_groups) == sum(
        p.requires_grad for p in model.parameters())
    for images, masks in draw_batches(3, 4, 96, 8, torch.device('cpu')):
        for m, wrapper in zip(models, (merged, per_param)):
            wrapper.update_params(m.loss(images, masks)['loss'])
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(a, b)
    fresh.load_state_dict(per_param.state_dict())  # a checkpoint of before the merge
    ours, loaded = merged.optimizer, fresh.optimizer
    for group, again in zip(ours.param_groups, loaded.param_groups):
        assert {k: v for k, v in group.items() if k != 'params'} == \
            {k: v for k, v in again.items() if k != 'params'}
        for p, q in zip(group['params'], again['params']):
            for key, value in ours.state[p].items():
                assert torch.equal(value, loaded.state[q][key]), key
