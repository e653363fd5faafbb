"""What ``tools/train.py`` and ``tools/test.py`` do with their arguments: the config with the
command line applied, the runner it asks for, and the evaluations (of the work dir's best
checkpoint, of a given one, or of the config's own initial weights)."""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.dist import barrier
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from backbones.safe_checkpoint import enable_safe_checkpoints
from .resume import best_checkpoint, latest_checkpoint
from .schedules import check_param_schedulers
from .visualization import apply_logging_switches

__all__ = ['add_common_args', 'load_config', 'build_runner', 'training_config', 'train',
           'test_best_checkpoint', 'test']


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The arguments that tools/train.py and tools/test.py share."""
    parser.add_argument('--work-dir', help='where logs, checkpoints and metrics go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank (older).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """``args.config`` with the shared arguments applied."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.launcher == 'pytorch' and not torch.cuda.is_available() and not dist.is_initialized():
        # mmengine's launcher assumes GPUs (NCCL, cuda.set_device): on CPUs join over gloo here,
        # and the runner uses this process group.
        dist.init_process_group('gloo')
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    return apply_logging_switches(cfg)


def build_runner(cfg: Config) -> Runner:
    """mmengine's Runner, or the config's ``runner_type``, with safe checkpoint I/O enabled
    (:func:`~backbones.safe_checkpoint.enable_safe_checkpoints`) for what it loads and saves."""
    enable_safe_checkpoints()
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def training_config(args: argparse.Namespace) -> Config:
    """The config of a training run: the shared arguments and ``--amp``, ``--auto-scale-lr``,
    ``--resume`` (``'auto'``: the work dir's latest checkpoint) and ``--resume-changed``; its
    schedulers checked against its length (:func:`~engine.schedules.check_param_schedulers`)."""
    cfg = load_config(args)
    check_param_schedulers(cfg)  # a warm-up longer than the run, named before the runner fails
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp works with OptimWrapper configs, not {wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('dtype', 'bfloat16')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError(f'{args.config} has no auto_scale_lr.base_batch_size to scale from')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        found = latest_checkpoint(cfg.work_dir)
        cfg.resume, cfg.load_from = found is not None, found
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.resume_changed:
        hook = cfg.get('default_hooks', {}).get('checkpoint', {})
        if hook.get('type') != 'SafeCheckpointHook':
            raise KeyError(f'--resume-changed needs default_hooks.checkpoint of type '
                           f"SafeCheckpointHook in {args.config}, which has {hook.get('type')!r}")
        hook.allow_changed_layout = True
    return cfg


def train(args: argparse.Namespace) -> None:
    """Train the config of ``args`` (tools/train.py's options), then with ``args.test`` test its
    best checkpoint."""
    build_runner(training_config(args)).train()
    if args.test:
        test_best_checkpoint(args)


def test_best_checkpoint(args: argparse.Namespace) -> None:
    """What ``tools/test.py CONFIG CHECKPOINT`` does with the work dir's best checkpoint, in a
    runner of its own (a run dir of its own, as a separate test run has) without starting Python
    again."""
    barrier()  # every rank reads the checkpoints that rank 0 wrote
    cfg = load_config(args)
    cfg.load_from = best_checkpoint(cfg.work_dir)
    if cfg.load_from is None:
        raise FileNotFoundError(f'--test: {cfg.work_dir} holds no checkpoint to test (the config '
                                'saves none: set default_hooks.checkpoint)')
    build_runner(cfg).test()


def test(args: argparse.Namespace, checkpoint: Optional[str] = None) -> None:
    """Evaluate the config of ``args`` with ``checkpoint`` loaded, or without one with the weights
    the model's own ``init_weights()`` gives it, as before training (its encoder's ``init_cfg``
    loads the pretrained checkpoint)."""
    cfg = load_config(args)
    cfg.load_from = checkpoint
    runner = build_runner(cfg)
    if checkpoint is None:
        # Runner.train's own step (each process, then rank 0's weights broadcast); test() has none
        runner._init_model_weights()
    runner.test()
