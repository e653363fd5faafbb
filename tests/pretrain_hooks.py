"""Hooks that the pretraining tests inject into real runs (through custom_imports)."""
import json
import multiprocessing
import os
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


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
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            with torch.no_grad():
                model.context_encoder.patch_embed.proj.weight[0, 0, 0, 0] = float('nan')


@HOOKS.register_module()
class DumpWeightsHook(Hook):
    """Save every rank's final model weights to ``work_dir/rank{R}.pth``."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
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
