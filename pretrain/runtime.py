"""The few pieces of the pretraining runtime that mmengine does not have.

* :class:`PretrainLoop`: an iteration loop sized in epochs whose resume repositions the batch sampler
  instead of re-reading every batch already trained on.
* :class:`TrainingProgressHook`: training progress to the model, and the EMA target update.
* :class:`PretrainLogHook`: weight decay, EMA momentum, images/s and unreadable images in the log.
* :class:`TargetRankHook`: the effective rank of the targets in the log, where collapse shows.
* :class:`BF16OptimWrapper`: bf16 autocast on GPU without a GradScaler, fp32 on CPU; a step whose
  loss is not finite is skipped on the device, without waiting for the host.
* :class:`PretrainRuntimeInfoHook`: mmengine's ``RuntimeInfoHook`` that reads the losses back from the
  device only where they are logged or saved, and stops a run with a non-finite step there.
* :class:`DeviceAwareDDP`: mmengine's DDP wrapper, usable on CPU (gloo) too.
* :class:`TrainableOptimWrapperConstructor`: mmengine's constructor, leaving frozen modules (the
  EMA target encoder) out of the optimizer and merging parameter groups of equal options.
"""
import contextlib
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as dist
from mmengine.dist import get_world_size
from mmengine.hooks import CheckpointHook, Hook, LoggerHook, RuntimeInfoHook
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import (HOOKS, LOOPS, MODEL_WRAPPERS, OPTIM_WRAPPER_CONSTRUCTORS,
                               OPTIM_WRAPPERS)
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from engine.model import unwrap_model

__all__ = ['PretrainLoop', 'TrainingProgressHook', 'PretrainLogHook', 'TargetRankHook', 'BF16OptimWrapper',
           'PretrainRuntimeInfoHook', 'DeviceAwareDDP', 'TrainableOptimWrapperConstructor',
           'effective_rank', 'token_covariance', 'participation_ratio', 'merge_param_groups',
           'non_finite_loss_error']


class _SkipTrained:
    """Answers the loop's replay of already-trained steps without loading any data."""

    def __init__(self, iterator: Iterator, skip: int) -> None:
        self.iterator, self.skip = iterator, skip

    def __iter__(self) -> '_SkipTrained':
        return self

    def __next__(self):
        if self.skip:
            self.skip -= 1
            return None
        return next(self.iterator)


@LOOPS.register_module()
class PretrainLoop(IterBasedTrainLoop):
    """``max_epochs`` epochs of iteration-based training with :class:`~pretrain.data.StepBatchSampler`.

    On resume at step k the batch sampler starts at step k directly, so the data seen from then on is
    exactly that of an uninterrupted run and nothing before it is read again. When training ends,
    persistent data workers are stopped.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, dict], max_epochs: int,
                 val_begin: int = 1, val_interval: int = 1000) -> None:
        if isinstance(dataloader, dict):
            dataloader = runner.build_dataloader(dataloader, seed=runner.seed)
        if not hasattr(dataloader.batch_sampler, 'set_start_step'):
            raise TypeError("PretrainLoop needs batch_sampler=dict(type='StepBatchSampler')")
        super().__init__(runner, dataloader, max_iters=max_epochs * len(dataloader),
                         val_begin=val_begin, val_interval=val_interval)
        self._max_epochs = max_epochs

    def run_iter(self, data_batch) -> None:
        self._epoch = self._iter // len(self.dataloader)  # for logs and checkpoint meta
        super().run_iter(data_batch)

    def run(self) -> torch.nn.Module:
        if self._iter:
            # The iterator made before the resume already started at step 0: make a new one.
            self.dataloader.batch_sampler.set_start_step(self._iter)
            self.dataloader_iterator = _SkipTrained(
                _InfiniteDataloaderIterator(self.dataloader), self._iter)
        try:
            return super().run()
        finally:
            self._stop_persistent_workers()

    def _stop_persistent_workers(self) -> None:
        # With pin_memory, torch registers an exit handler that waits 5 s for each persistent worker,
        # which was never told to stop: 10 workers kept a finished run alive for 50 s on an H200.
        iterator = getattr(self.dataloader, '_iterator', None)
        if iterator is not None:
            iterator._shutdown_workers()
            self.dataloader._iterator = None


@HOOKS.register_module()
class TrainingProgressHook(Hook):
    """The one way training progress reaches a JEPA model: before each iteration it tells the model
    its step and the run's length (:meth:`~pretrain.jepa.JEPAModel.set_progress`), which DSeq-JEPA's
    curriculum reads; after the optimiser step it moves the target encoder with the EMA momentum
    of that step (:meth:`~pretrain.jepa.JEPAModel.momentum`) and logs the momentum."""

    priority = 'ABOVE_NORMAL'  # the target moves before the CheckpointHook saves the step

    def before_train(self, runner) -> None:
        if not isinstance(runner.optim_wrapper, BF16OptimWrapper):
            raise TypeError(
                f'pretraining needs optim_wrapper=dict(type=\'BF16OptimWrapper\', ...), not '
                f'{type(runner.optim_wrapper).__name__}: it keeps a step with a non-finite loss from '
                'the weights')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        unwrap_model(runner.model).set_progress(runner.iter, runner.max_iters)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = unwrap_model(runner.model)
        momentum = model.momentum()
        model.update_target(momentum)
        runner.message_hub.update_scalar('train/ema_momentum', momentum)


@HOOKS.register_module()
class PretrainLogHook(Hook):
    """Puts weight decay, images/s and skipped images into each log line; counts skipped images."""

    priority = 55  # after IterTimerHook (50) has timed the step, before LoggerHook (60) writes it

    def __init__(self) -> None:
        self.skipped = set()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        groups = runner.optim_wrapper.param_groups
        runner.message_hub.update_scalar('train/wd', max(g['weight_decay'] for g in groups))
        seconds = runner.message_hub.get_scalar('train/time').current()
        images = len(data_batch['inputs']) * get_world_size()
        runner.message_hub.update_scalar('train/images_per_s', images / max(seconds, 1e-9))
        new = set(data_batch['data_samples']['skipped']) - self.skipped
        if new:
            self.skipped |= new
            runner.logger.warning(f'skipped unreadable images: {sorted(new)}')

    def after_train(self, runner) -> None:
        if self.skipped:
            runner.logger.warning(f'{len(self.skipped)} unreadable images were skipped in this run')


def effective_rank(tokens: torch.Tensor) -> float:
    """The participation ratio (sum of eigenvalues)^2 / sum of squares of the covariance of
    ``tokens`` (..., D): D for isotropic features, 1 when they vary along a single direction."""
    return float(participation_ratio(token_covariance(tokens)))


def token_covariance(tokens: torch.Tensor) -> torch.Tensor:
    """The float32 covariance (D, D) of ``tokens`` (..., D)."""
    x = tokens.reshape(-1, tokens.shape[-1]).float()
    x = x - x.mean(0)
    return x.T @ x / len(x)


def participation_ratio(covariance: torch.Tensor) -> torch.Tensor:
    """(sum of eigenvalues)^2 / sum of squares of each covariance (..., D, D) -> (...)."""
    eig = torch.linalg.eigvalsh(covariance).clamp_min(0)
    return eig.sum(-1) ** 2 / (eig ** 2).sum(-1).clamp_min(1e-30)


@HOOKS.register_module()
class TargetRankHook(Hook):
    """Logs ``target_rank``, the :func:`effective_rank` of the batch's layer-normed target tokens,
    at the first iteration and every ``interval`` iterations (one more target-encoder pass each).

    JEPA targets can collapse into a few directions while the loss keeps falling; this is where it
    shows. The tiny encoder of the ``tiny`` suite preset at lr 1e-3 fell from about 8 (its random
    initialisation) to 2 within 200 iterations, and then kept less of the scene than a random one.

    The targets' covariance is computed at those iterations; its eigenvalues, which the host waits
    for, at the next iteration that logs or saves (:meth:`PretrainRuntimeInfoHook.reads_host`),
    where the host waits anyway. The values enter the ``MessageHub`` there, in order, before the
    line is written or the checkpoint saved.
    """

    priority = 55  # before LoggerHook (60) writes the line

    def __init__(self, interval: int = 50) -> None:
        self.interval = interval
        self.pending: List[torch.Tensor] = []  # covariances whose rank is not read yet

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if runner.iter == 0 or self.every_n_train_iters(runner, self.interval):
            model = unwrap_model(runner.model)
            images = model.data_preprocessor(data_batch, False)['inputs']
            with runner.optim_wrapper.optim_context(model):
                targets = model.target_tokens(images)
            self.pending.append(token_covariance(targets))
        if self.pending and (runner.iter == 0 or
                             PretrainRuntimeInfoHook.reads_host(runner, batch_idx)):
            ranks, self.pending = participation_ratio(torch.stack(self.pending)).tolist(), []
            for rank in ranks:
                runner.message_hub.update_scalar('train/target_rank', rank)


def non_finite_loss_error(steps: int, last_checkpoint: Optional[str],
                          first: Optional[int] = None) -> FloatingPointError:
    """The error that stops a run after ``steps`` iterations with a non-finite loss (the first at
    iteration ``first``, counted from 1, when known on this rank)."""
    at = f' from iteration {first}' if first is not None else ''
    where = (f'The last checkpoint, {last_checkpoint}, holds finite weights (each is checked before '
             'it is written): resume from it with --resume after lowering the learning rate or '
             'checking the data.') if last_checkpoint else \
        'No checkpoint was written yet: restart after lowering the learning rate or checking the data.'
    return FloatingPointError(
        f'non-finite loss in {steps} iteration{"s" if steps != 1 else ""}{at}: no optimiser step '
        'was taken from the first of them on (skipped on the device), and the run stops before '
        f'anything is logged or saved. {where}')


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """bf16 autocast around the forward pass on CUDA (bf16 needs no loss scaling); fp32 elsewhere.

    A non-finite loss never reaches the weights, and finding it costs no wait for the host: each
    :meth:`backward` adds a device flag (the loss is inf or NaN on any rank: a MAX all-reduce, which
    NCCL runs asynchronously) to :attr:`non_finite_steps`, and from the first such step on every
    optimiser step is skipped on the device, the way ``torch.amp.GradScaler`` skips one: the
    optimizer reads ``found_inf`` and leaves parameters, moments and step counts as they were. The
    optimizer must be one that reads it (torch's fused Adam, AdamW or SGD:
    ``optimizer=dict(type='AdamW', fused=True, ...)``). The count is read where the host waits anyway
    (:class:`PretrainRuntimeInfoHook` at logging iterations, before checkpoints and at the end;
    :class:`~engine.checkpoint.SafeCheckpointHook` before every save), which stop the run with
    :func:`non_finite_loss_error` when it is not 0.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *args, **kwargs) -> None:
        if not getattr(optimizer, '_step_supports_amp_scaling', False):
            raise TypeError(
                f'BF16OptimWrapper skips steps with a non-finite loss on the device, which '
                f'{type(optimizer).__name__}({"fused=False" if "fused" in optimizer.defaults else ""})'
                ' cannot do: use an optimizer that reads `found_inf` as torch.amp.GradScaler sets it, '
                "such as torch's fused AdamW: optimizer=dict(type='AdamW', fused=True, ...)")
        super().__init__(optimizer, *args, **kwargs)
        self._non_finite: Optional[torch.Tensor] = None

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model):
            device = next(unwrap_model(model).parameters()).device
            with torch.autocast('cuda', dtype=torch.bfloat16, enabled=device.type == 'cuda'):
                yield

    @property
    def non_finite_steps(self) -> Optional[torch.Tensor]:
        """The number of backward passes with a non-finite loss so far on any rank, a float32
        tensor on the loss's device (``None`` before the first); reading it waits for the device."""
        return self._non_finite

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        bad = torch.isfinite(loss.detach()).logical_not_().float()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)  # every rank skips the same steps
        if self._non_finite is None:
            self._non_finite = bad
        else:
            self._non_finite.add_(bad)
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self._non_finite is not None:
            # 1.0 from the first non-finite step on: the fused kernels skip when found_inf == 1
            self.optimizer.found_inf = self._non_finite.clamp_max(1.0)
        super().step(**kwargs)

    def load_state_dict(self, state_dict: dict) -> None:
        merged = getattr(self, 'merged_groups', None)
        groups = state_dict.get('param_groups', [])
        if merged and len(groups) != len(self.optimizer.param_groups) and \
                len(groups) == sum(len(m) for m in merged):  # saved before groups were merged
            state_dict = regroup_state(state_dict, merged)
        super().load_state_dict(state_dict)

    def raise_if_non_finite(self) -> None:
        """Stop the run with :func:`non_finite_loss_error` if any step so far had a non-finite loss
        (one wait for the device)."""
        steps = 0 if self._non_finite is None else int(self._non_finite.item())
        if steps:
            raise non_finite_loss_error(steps, self.message_hub.get_info('last_ckpt'))


@HOOKS.register_module()
class PretrainRuntimeInfoHook(RuntimeInfoHook):
    """mmengine's ``RuntimeInfoHook`` without a wait for the device in every iteration.

    mmengine's hook puts every loss into the ``MessageHub`` right after its iteration, which reads it
    back from the device (``.item()``). This one keeps the iteration's output tensors on the device
    and reads them back, in one copy, only where something reads them: where the ``LoggerHook``
    writes a line, where the ``CheckpointHook`` saves (the ``MessageHub`` is in the checkpoint), at
    the first and the last iteration, and at the end of training (or after 1000 iterations); the
    same values then enter the ``MessageHub`` in the same order, so every log line and checkpoint
    is what mmengine's hook gives. The optim wrapper's count of steps with a non-finite loss
    (:attr:`BF16OptimWrapper.non_finite_steps`) is read in the same copy, logged as
    ``nonfinite_steps`` and, when not 0, stops the run before the line is logged or the checkpoint
    saved.
    """

    max_pending = 1000

    def __init__(self) -> None:
        self.pending: List[Tuple[int, Dict[str, object]]] = []  # (iteration, outputs)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs is not None:
            self.pending.append((runner.iter, {k: v.detach() if torch.is_tensor(v) else v
                                               for k, v in outputs.items()}))
        if runner.iter == 0 or self.reads_host(runner, batch_idx) or \
                len(self.pending) >= self.max_pending:
            self.flush(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)  # a run stopped early by a hook
        super().after_train(runner)

    @staticmethod
    def reads_host(runner, batch_idx: int) -> bool:
        """Whether this training iteration logs a line or saves a checkpoint (or is the last)."""
        if runner.iter + 1 >= runner.max_iters:
            return True
        for hook in runner.hooks:
            if isinstance(hook, LoggerHook):
                if hook.every_n_inner_iters(batch_idx, hook.interval) or (
                        hook.end_of_epoch(runner.train_dataloader, batch_idx) and (
                            not hook.ignore_last or len(runner.train_dataloader) <= hook.interval)):
                    return True
            elif isinstance(hook, CheckpointHook):
                if hook.by_epoch:
                    if hook.end_of_epoch(runner.train_dataloader, batch_idx):
                        return True
                elif hook.every_n_train_iters(runner, hook.interval, hook.save_begin):
                    return True
        return False

    def flush(self, runner) -> None:
        """Read the kept outputs and the non-finite count back in one copy and put them into the
        ``MessageHub`` in order; stop the run if a step was non-finite."""
        pending, self.pending = self.pending, []
        count = getattr(runner.optim_wrapper, 'non_finite_steps', None)
        tensors = [v for _, outputs in pending for v in outputs.values() if torch.is_tensor(v)]
        if count is not None:
            tensors.append(count)
        if not tensors:
            return
        device = tensors[0].device
        values = iter(torch.stack([t.to(device, torch.float64).reshape(()) for t in tensors])
                      .tolist())
        first = None
        for iteration, outputs in pending:
            for key, value in outputs.items():
                if torch.is_tensor(value):
                    value = _as_item(next(values), value.dtype)
                if key == 'loss' and first is None and not math.isfinite(value):
                    first = iteration + 1
                runner.message_hub.update_scalar(f'train/{key}', value)
        if count is None:
            return
        steps = int(next(values))
        runner.message_hub.update_scalar('train/nonfinite_steps', steps)
        if steps:
            raise non_finite_loss_error(steps, runner.message_hub.get_info('last_ckpt'), first)


def _as_item(value: float, dtype: torch.dtype):
    """What ``tensor.item()`` gives for a one-element tensor of ``dtype`` holding ``value``."""
    if dtype == torch.bool:
        return bool(value)
    return value if dtype.is_floating_point or dtype.is_complex else int(value)


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """mmengine's DDP wrapper; on a CPU model it drops ``device_ids``, which DDP refuses there."""

    def __init__(self, module: torch.nn.Module, device_ids: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor (``paramwise_cfg`` and all) over the modules that have a trainable
    parameter; fully frozen ones such as the EMA target encoder stay out of the optimizer.

    mmengine gives ``paramwise_cfg`` one parameter group per parameter (227 for ViT-B/16 and its
    predictor), and torch's optimizers step group by group: one fused kernel (and its launches
    and Python) per parameter. Groups with the same options are merged here (ViT-B/16: 2 groups,
    with and without weight decay), which changes no number: the update of a parameter depends only
    on its group's options. The wrapper keeps which groups were merged
    (``merged_groups``), so an optimizer state saved with one group per parameter still loads
    (:meth:`BF16OptimWrapper.load_state_dict`).
    """

    def add_params(self, params, module: torch.nn.Module, prefix: str = '', *args, **kwargs) -> None:
        if any(p.requires_grad for p in module.parameters()):
            super().add_params(params, module, prefix, *args, **kwargs)
        if not prefix:  # the call on the whole model, after its children's
            params[:], self.merged_groups = merge_param_groups(params)

    def __call__(self, model: torch.nn.Module) -> OptimWrapper:
        self.merged_groups = None
        wrapper = super().__call__(model)
        wrapper.merged_groups = self.merged_groups
        return wrapper


def merge_param_groups(groups: List[dict]) -> Tuple[List[dict], List[List[int]]]:
    """Parameter groups with equal options merged, in the order of their first members; and for
    each merged group, the indices of the groups it holds."""
    merged, sources, index = [], [], {}
    for i, group in enumerate(groups):
        key = repr(sorted((k, v) for k, v in group.items() if k != 'params'))
        if key not in index:
            index[key] = len(merged)
            merged.append(dict(group, params=[]))
            sources.append([])
        merged[index[key]]['params'] += list(group['params'])
        sources[index[key]].append(i)
    return merged, sources


def regroup_state(state: dict, merged_groups: List[List[int]]) -> dict:
    """An optimizer ``state_dict`` saved before its groups were merged, in the merged layout."""
    groups = state['param_groups']
    return dict(state, param_groups=[
        dict(groups[members[0]], params=[p for m in members for p in groups[m]['params']])
        for members in merged_groups])
