"""The hooks of pretraining, each reading or telling the model one thing.

* :class:`TrainingProgressHook`: training progress to the model, and the EMA target update.
* :class:`PretrainLogHook`: weight decay, images/s and unreadable images in the log.
* :class:`TargetRankHook`: the effective rank of the targets in the log, where collapse shows.
* :class:`PretrainRuntimeInfoHook`: mmengine's ``RuntimeInfoHook`` that reads the losses back from
  the device only where they are logged or saved, and stops a run with a non-finite step there.
"""
import math
from typing import Dict, List, Tuple, Union

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import CheckpointHook, Hook, LoggerHook, RuntimeInfoHook
from mmengine.registry import HOOKS

from engine.model import unwrap_model
from .optim import BF16OptimWrapper, non_finite_loss_error

__all__ = ['TrainingProgressHook', 'PretrainLogHook', 'TargetRankHook', 'PretrainRuntimeInfoHook',
           'effective_rank', 'token_covariance', 'participation_ratio']


@HOOKS.register_module()
class TrainingProgressHook(Hook):
    """The one way training progress reaches a JEPA model: before each iteration it tells the model
    its step and the run's length (:meth:`~pretrain.jepa.JEPAModel.set_progress`), which DSeq-JEPA's
    curriculum reads; after the optimiser step it moves the target encoder with the EMA momentum
    of that step (:meth:`~pretrain.jepa.JEPAModel.momentum`) and logs the momentum."""

    priority = 'ABOVE_NORMAL'  # the target moves before the CheckpointHook saves the step

    def before_train(self, runner) -> None:
        """Refuse an optim wrapper that would let a non-finite loss reach the weights."""
        if not isinstance(runner.optim_wrapper, BF16OptimWrapper):
            raise TypeError(
                f'pretraining needs optim_wrapper=dict(type=\'BF16OptimWrapper\', ...), not '
                f'{type(runner.optim_wrapper).__name__}: it keeps a step with a non-finite loss '
                'from the weights')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Tell the model its step and the run's length."""
        unwrap_model(runner.model).set_progress(runner.iter, runner.max_iters)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Move the target encoder with this step's EMA momentum, and log the momentum."""
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
        """Log weight decay and images/s; warn about the images skipped for the first time."""
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
        """Warn with the number of images skipped in the run."""
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
        """Keep the targets' covariance at the iterations it is due; log the kept ranks where the
        host reads the device anyway."""
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


@HOOKS.register_module()
class PretrainRuntimeInfoHook(RuntimeInfoHook):
    """mmengine's ``RuntimeInfoHook`` without a wait for the device in every iteration.

    mmengine's hook puts every loss into the ``MessageHub`` right after its iteration, which reads
    it back from the device (``.item()``). This one keeps the iteration's output tensors on the
    device and reads them back, in one copy, only where something reads them: where the
    ``LoggerHook`` writes a line, where the ``CheckpointHook`` saves (the ``MessageHub`` is in the
    checkpoint), at the first and the last iteration, and at the end of training (or after 1000
    iterations); the same values then enter the ``MessageHub`` in the same order, so every log line
    and checkpoint is what mmengine's hook gives. The optim wrapper's count of steps with a
    non-finite loss (:attr:`~pretrain.optim.BF16OptimWrapper.non_finite_steps`) is read in the same
    copy, logged as ``nonfinite_steps`` and, when not 0, stops the run before the line is logged or
    the checkpoint saved.
    """

    max_pending = 1000

    def __init__(self) -> None:
        self.pending: List[Tuple[int, Dict[str, object]]] = []  # (iteration, outputs)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Keep the outputs on the device; read them back where the host reads anyway."""
        if outputs is not None:
            self.pending.append((runner.iter, {k: v.detach() if torch.is_tensor(v) else v
                                               for k, v in outputs.items()}))
        if runner.iter == 0 or self.reads_host(runner, batch_idx) or \
                len(self.pending) >= self.max_pending:
            self.flush(runner)

    def after_train(self, runner) -> None:
        """Read back what a run stopped early by a hook has kept."""
        self.flush(runner)
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


def _as_item(value: float, dtype: torch.dtype) -> Union[bool, int, float]:
    """What ``tensor.item()`` gives for a one-element tensor of ``dtype`` holding ``value``."""
    if dtype == torch.bool:
        return bool(value)
    return value if dtype.is_floating_point or dtype.is_complex else int(value)
