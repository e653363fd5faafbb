"""Evaluate a model with any config of the suite.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--cfg-options KEY=VALUE ...]
                         [--launcher none|pytorch|slurm|mpi]

With CHECKPOINT, the trained model (e.g. a probe's best epoch) is loaded. Without it, the model's
own ``init_weights()`` runs, as before training: its encoder's ``init_cfg`` loads the pretrained
checkpoint, which is all that an evaluation without training (kNN) needs.
"""
import argparse

from engine.launch import add_common_args, test


def main() -> None:
    parser = argparse.ArgumentParser(description='Evaluate a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?',
                        help="checkpoint to evaluate (default: the config's init_cfg weights)")
    add_common_args(parser)
    args = parser.parse_args()
    test(args, args.checkpoint)


if __name__ == '__main__':
    main()
