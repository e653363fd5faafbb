"""Hooks that the pretraining tests inject into real runs (through custom_imports)."""
import json
import multiprocessing
import os
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from engine.model import unwrap_model


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL the process when iteration ``at`` starts: no cleanup, no final checkpoint."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class PoisonAtIterHook(Hook):
    """Write a NaN into the context encoder when iteration ``at`` starts."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at:
            model = unwrap_model(runner.model)
            with torch.no_grad():
                model.context_encoder.patch_embed.proj.weight[0, 0, 0, 0] = float('nan')


@HOOKS.register_module()
class DumpWeightsHook(Hook):
    """Save every rank's final model weights to ``work_dir/rank{R}.pth``."""

    def after_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        torch.save(model.state_dict(), os.path.join(runner.work_dir, f'rank{get_rank()}.pth'))


@HOOKS.register_module()
class DumpStepKindsHook(Hook):
    """Save every rank's sequence of step kinds (1 = DSeq step) to ``work_dir/kinds{R}.json``."""

    def __init__(self) -> None:
        self.kinds = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.kinds.append(int(outputs['dseq']))

    def after_train(self, runner) -> None:
        with open(os.path.join(runner.work_dir, f'kinds{get_rank()}.json'), 'w') as f:
            json.dump(self.kinds, f)


@HOOKS.register_module()
class CountChildProcessesHook(Hook):
    """Save the live child processes at the last iteration and once training has ended."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.training = len(multiprocessing.active_children())

    def after_run(self, runner) -> None:
        with open(os.path.join(runner.work_dir, 'children.json'), 'w') as f:
            json.dump(dict(training=self.training, ended=len(multiprocessing.active_children())), f)


@HOOKS.register_module()
class KillInSaveHook(Hook):
    """SIGKILL the process at ``point`` of its ``save``-th checkpoint save (counted from 1).

    Points, in the order a save passes them: ``before_save`` (the checkpoint is built, nothing
    written), ``inside_checkpoint`` (half of the ``.pth`` bytes written to its temporary file),
    ``after_checkpoint`` (the ``.pth`` is in place, the pointer not yet written), ``inside_pointer``
    (half of the pointer written), ``after_pointer`` (before old checkpoints are removed) and
    ``after_remove`` (an old checkpoint removed).
    """

    POINTS = ('before_save', 'inside_checkpoint', 'after_checkpoint', 'inside_pointer',
              'after_pointer', 'after_remove')

    def __init__(self, point: str, save: int = 1) -> None:
        assert point in self.POINTS, point
        self.point, self.save, self.saves = point, save, 0

    def _at(self, point: str) -> bool:
        return self.saves == self.save and self.point == point

    @staticmethod
    def _die(partial: str = None) -> None:
        if partial:  # what a kill in the middle of writing this file leaves
            with open(partial, 'r+b') as f:
                f.truncate(os.path.getsize(partial) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

    def before_train(self, runner) -> None:
        replace, remove = os.replace, os.remove

        def killing_replace(src, dst):
            kind = 'checkpoint' if str(dst).endswith('.pth') else 'pointer'
            if self._at(f'inside_{kind}'):
                self._die(partial=src)
            replace(src, dst)
            if self._at(f'after_{kind}'):
                self._die()

        def killing_remove(path):
            remove(path)
            if str(path).endswith('.pth') and self._at('after_remove'):
                self._die()
        os.replace, os.remove = killing_replace, killing_remove

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        self.saves += 1
        if self._at('before_save'):
            self._die()
