"""Train any config of the suite: pretraining, detection, segmentation or a linear probe.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--resume-changed] [--amp]
                          [--auto-scale-lr] [--test] [--cfg-options KEY=VALUE ...]
                          [--launcher none|pytorch|slurm|mpi]

The config decides what runs: its ``default_scope`` selects the registries (mmdet, mmseg, ...) and
its ``custom_imports`` load the suite's modules, so this script has no per-task code.
"""
import argparse

from engine.launch import add_common_args, train


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


def main() -> None:
    train(parse_args())


if __name__ == '__main__':
    main()
