"""Checkpoints that survive any kill, never hold non-finite weights, and resume only the same run.

* :class:`SafeCheckpointHook`: mmengine's ``CheckpointHook`` that checks the weights are finite
  (and that no step was skipped for a non-finite loss) before it writes, writes the
  ``last_checkpoint`` pointer atomically, removes old checkpoints only once the new one is complete,
  cleans what a killed save left behind, and refuses to resume a run whose batch, process count or
  parameter shapes have changed. Building it enables the safe checkpoint I/O
  (:func:`backbones.safe_checkpoint.enable_safe_checkpoints`) that its saves and resumes rely on.
* :func:`resume_advice`: what a run stopped for non-finite numbers tells its user to do.

Which checkpoint a ``--resume`` continues from is :func:`engine.resume.latest_checkpoint`.
"""
import glob
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from backbones.safe_checkpoint import (AtomicLocalBackend, check_finite, drop_config_text,
                                       enable_safe_checkpoints, non_finite_tensors)
from .model import unwrap_model
from .resume import POINTER, checkpoints_in

__all__ = ['SafeCheckpointHook', 'resume_advice', 'run_changes']

_LEFTOVER = '.tmp_*'  # AtomicLocalBackend's temporary files


def resume_advice(last_checkpoint: Optional[str]) -> str:
    """What to do after a run stopped for non-finite numbers: resume from ``last_checkpoint`` (every
    checkpoint's weights are checked before it is written), or restart when there is none."""
    if last_checkpoint:
        return (f'The last checkpoint, {last_checkpoint}, holds finite weights (each is checked '
                'before it is written): resume from it with --resume after lowering the learning '
                'rate or checking the data.')
    return ('No checkpoint was written yet: restart after lowering the learning rate or checking '
            'the data.')


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> Iterable[Tuple[str, torch.Tensor]]:
    for index, state in enumerate(optimizer.state.values()):
        for key, value in state.items():
            yield f'optimizer state {index}.{key}', value


def run_changes(saved: Dict[str, int], now: Dict[str, int], saved_shapes: Dict[str, tuple],
                shapes: Dict[str, tuple]) -> Tuple[List[str], List[str]]:
    """What differs between a checkpoint's run and this one: (layout changes, shape changes).

    ``saved`` / ``now`` map a layout quantity (batch size per process, processes) to its value;
    ``saved_shapes`` / ``shapes`` map parameter and buffer names to their shapes.
    """
    layout = [f'{key}: {saved[key]} in the checkpoint, {now[key]} now'
              for key in now if key in saved and saved[key] != now[key]]
    shape = [f'{name}: {tuple(saved_shapes[name])} in the checkpoint, {tuple(shapes[name])} now'
             for name in shapes if name in saved_shapes and
             tuple(saved_shapes[name]) != tuple(shapes[name])]
    shape += [f'{name}: only in the checkpoint' for name in saved_shapes if name not in shapes]
    shape += [f'{name}: not in the checkpoint' for name in shapes if name not in saved_shapes]
    return layout, shape


def _layout(runner) -> Dict[str, int]:
    """What one training step is made of: it must not change within a run."""
    return {'batch size per process': runner.cfg.train_dataloader.get('batch_size'),
            'processes': runner.world_size}


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` made safe against kills, non-finite weights and changed runs.

    Args:
        allow_changed_layout: resume even when the batch size per process or the number of
            processes differs from the checkpoint's (``tools/train.py --resume-changed``); the
            schedule and the data order then mix two runs. Changed parameter shapes are always
            refused.
        **kwargs: ``CheckpointHook``'s arguments.
    """

    def __init__(self, allow_changed_layout: bool = False, **kwargs) -> None:
        enable_safe_checkpoints()  # before the runner resumes or saves through mmengine
        super().__init__(**kwargs)
        self.allow_changed_layout = allow_changed_layout

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            self._remove_leftovers(runner)

    def _remove_leftovers(self, runner) -> None:
        """Temporary files of a killed save, and the old checkpoints it had not yet removed."""
        for folder in {self.out_dir, runner.work_dir}:
            for path in glob.glob(osp.join(folder, _LEFTOVER)):
                if path.endswith(('.pth', POINTER)):
                    os.remove(path)
        if self.max_keep_ckpts <= 0 or not self.keep_ckpt_ids:  # nothing kept: nothing resumed
            return
        oldest_kept = min(self.keep_ckpt_ids)
        for step, path in checkpoints_in(self.out_dir):
            if step < oldest_kept and osp.basename(path) == self.filename_tmpl.format(step):
                os.remove(path)  # older than every checkpoint the resumed run keeps

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['meta']['layout'] = _layout(runner)
        checkpoint['meta']['cpu_threads'] = torch.get_num_threads()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = runner._load_from or 'the checkpoint'
        if not osp.isfile(str(source)):  # a local file was checked as it was read; a URL not
            check_finite(checkpoint, source)
            drop_config_text(checkpoint, source)  # before Runner.resume would run it
        if not runner._resume:  # loading weights to start a new run changes nothing here
            return
        saved_shapes = {k: tuple(v.shape) for k, v in checkpoint['state_dict'].items()}
        shapes = {k: tuple(v.shape) for k, v in unwrap_model(runner.model).state_dict().items()}
        layout, shape = run_changes(checkpoint['meta'].get('layout', {}), _layout(runner),
                                    saved_shapes, shapes)
        if shape:
            raise ValueError(
                f'refusing to resume from {source}: the model has changed:\n  ' +
                '\n  '.join(shape[:20]) + ('\n  ...' if len(shape) > 20 else '') +
                '\nA changed model cannot continue this run: start a new work dir (with '
                f'load_from={source} to initialise from it).')
        if layout and not self.allow_changed_layout:
            raise ValueError(
                f'refusing to resume from {source}: the run has changed:\n  ' +
                '\n  '.join(layout) + '\nResuming would mix two batch sizes in one schedule and '
                'data order. Restore the setting, start a new work dir, or pass --resume-changed '
                'to continue anyway.')
        for change in layout:
            runner.logger.warning(f'resuming with a changed run ({change}), as asked')
        threads = checkpoint['meta'].get('cpu_threads')
        if threads not in (None, torch.get_num_threads()):
            runner.logger.warning(
                f'the checkpoint was written with {threads} CPU threads per process and this run '
                f'has {torch.get_num_threads()}: CPU results now differ from an uninterrupted run '
                'in their last bits (set OMP_NUM_THREADS to keep them bit-identical)')

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        self._check_finite(runner)
        stale = self._forget_old(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, filename, self.file_client_args,
                               save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        AtomicLocalBackend().put_text(self.last_ckpt, osp.join(runner.work_dir, POINTER))
        for path in stale:  # only now that the new checkpoint and the pointer to it are complete
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)

    def _forget_old(self, runner, step: int) -> List[str]:
        """Record ``step`` among the kept checkpoints; return the paths that fall out."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []  # the second save of one step (a new best) keeps the same files
        stale = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            old = self.keep_ckpt_ids.popleft()
            stale.append(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return stale

    def _check_finite(self, runner) -> None:
        """Stop the run, naming the last checkpoint, rather than save a non-finite weight. An optim
        wrapper that skips non-finite steps on the device (``pretrain.optim.BF16OptimWrapper``)
        is asked first, so that a non-finite loss is named as such."""
        check = getattr(runner.optim_wrapper, 'raise_if_non_finite', None)
        if check is not None:
            check()
        named = list(unwrap_model(runner.model).state_dict().items())
        named += list(_optimizer_tensors(runner.optim_wrapper.optimizer))
        bad = non_finite_tensors(named)
        if not bad:
            return
        raise FloatingPointError(
            f'{len(bad)} of {len(named)} weight and optimiser tensors are inf or NaN at iteration '
            f'{runner.iter} ({", ".join(bad[:4])}{", ..." if len(bad) > 4 else ""}), so no '
            'checkpoint is written and the run stops. '
            f"{resume_advice(runner.message_hub.get_info('last_ckpt'))}")
