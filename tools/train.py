"""Train any config of the suite: pretraining, detection, segmentation or a linear probe.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--resume-changed] [--amp]
                          [--auto-scale-lr] [--test] [--cfg-options KEY=VALUE ...]
                          [--launcher none|pytorch|slurm|mpi]

The config decides what runs: its ``default_scope`` selects the registries (mmdet, mmseg, ...) and
its ``custom_imports`` load the suite's modules, so this script has no per-task code.
"""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.dist import barrier
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from engine.resume import best_checkpoint, latest_checkpoint
from engine.visualization import apply_logging_switches


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
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a suite config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or without a value from the latest checkpoint '
                        'in the work dir (the newest complete one if the record of it is lost)')
    parser.add_argument('--resume-changed', action='store_true',
                        help='resume even if the batch size per process or the number of '
                        'processes differs from the checkpoint\'s (refused otherwise)')
    parser.add_argument('--amp', action='store_true', help='bf16 automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale lr by total batch / auto_scale_lr.base_batch_size')
    parser.add_argument('--test', action='store_true',
                        help='then test the best checkpoint (the last where the config keeps no '
                        'best) in this process, as tools/test.py CONFIG CHECKPOINT does')
    add_common_args(parser)
    return parser.parse_args()


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args)
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


def test_best_checkpoint(args: argparse.Namespace) -> None:
    """What ``tools/test.py CONFIG CHECKPOINT`` does with the work dir's best checkpoint, in a runner
    of its own (a run dir of its own, as a separate test run has) without starting Python again."""
    barrier()  # every rank reads the checkpoints that rank 0 wrote
    cfg = load_config(args)
    cfg.load_from = best_checkpoint(cfg.work_dir)
    if cfg.load_from is None:
        raise FileNotFoundError(f'--test: {cfg.work_dir} holds no checkpoint to test (the config '
                                'saves none: set default_hooks.checkpoint)')
    build_runner(cfg).test()


def main() -> None:
    args = parse_args()
    build_runner(build_config(args)).train()
    if args.test:
        test_best_checkpoint(args)


if __name__ == '__main__':
    main()
