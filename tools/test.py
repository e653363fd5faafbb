"""Evaluate a trained checkpoint with any config of the suite.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options KEY=VALUE ...]
                         [--launcher none|pytorch|slurm|mpi]
"""
import argparse

from train import add_common_args, build_runner, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint to evaluate')
    add_common_args(parser)
    args = parser.parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
