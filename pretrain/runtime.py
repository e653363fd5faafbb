"""The few pieces of the pretraining runtime that mmengine does not have.

* :class:`PretrainLoop`: an iteration loop sized in epochs whose resume repositions the batch sampler
  instead of re-reading every batch already trained on.
* :class:`TrainingProgressHook`: training progress to the model, and the EMA target update.
* :class:`PretrainLogHook`: weight decay, EMA momentum, images/s and unreadable images in the log.
* :class:`TargetRankHook`: the effective rank of the targets in the log, where collapse shows.
* :class:`BF16OptimWrapper`: bf16 autocast on GPU without a GradScaler, fp32 on CPU.
* :class:`DeviceAwareDDP`: mmengine's DDP wrapper, usable on CPU (gloo) too.
* :class:`TrainableOptimWrapperConstructor`: mmengine's constructor, leaving frozen modules (the
  EMA target encoder) out of the optimizer.
"""
import contextlib
from typing import Iterator, Optional, Sequence, Union

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import (HOOKS, LOOPS, MODEL_WRAPPERS, OPTIM_WRAPPER_CONSTRUCTORS,
                               OPTIM_WRAPPERS)
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from engine.model import unwrap_model

__all__ = ['PretrainLoop', 'TrainingProgressHook', 'PretrainLogHook', 'TargetRankHook', 'BF16OptimWrapper',
           'DeviceAwareDDP', 'TrainableOptimWrapperConstructor', 'effective_rank']


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
    x = tokens.reshape(-1, tokens.shape[-1]).float()
    x = x - x.mean(0)
    eig = torch.linalg.eigvalsh(x.T @ x / len(x)).clamp_min(0)
    return float(eig.sum() ** 2 / (eig ** 2).sum().clamp_min(1e-30))


@HOOKS.register_module()
class TargetRankHook(Hook):
    """Logs ``target_rank``, the :func:`effective_rank` of the batch's layer-normed target tokens,
    at the first iteration and every ``interval`` iterations (one more target-encoder pass each).

    JEPA targets can collapse into a few directions while the loss keeps falling; this is where it
    shows. The tiny encoder of the ``tiny`` suite preset at lr 1e-3 fell from about 8 (its random
    initialisation) to 2 within 200 iterations, and then kept less of the scene than a random one.
    """

    priority = 55  # before LoggerHook (60) writes the line

    def __init__(self, interval: int = 50) -> None:
        self.interval = interval

    @torch.no_grad()
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if runner.iter != 0 and not self.every_n_train_iters(runner, self.interval):
            return
        model = unwrap_model(runner.model)
        images = model.data_preprocessor(data_batch, False)['inputs']
        with runner.optim_wrapper.optim_context(model):
            targets = model.target_tokens(images)
        runner.message_hub.update_scalar('train/target_rank', effective_rank(targets))


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """bf16 autocast around the forward pass on CUDA (bf16 needs no loss scaling); fp32 elsewhere."""

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model):
            device = next(unwrap_model(model).parameters()).device
            with torch.autocast('cuda', dtype=torch.bfloat16, enabled=device.type == 'cuda'):
                yield


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
    parameter; fully frozen ones such as the EMA target encoder stay out of the optimizer."""

    def add_params(self, params, module: torch.nn.Module, *args, **kwargs) -> None:
        if any(p.requires_grad for p in module.parameters()):
            super().add_params(params, module, *args, **kwargs)
