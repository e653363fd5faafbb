"""Plot the training curves of pretraining runs, the methods in one picture.

    python tools/plot_curves.py LABEL=WORK_DIR [LABEL=WORK_DIR ...] --out FILE.png

A panel per logged key: the loss, the targets' effective rank (``train/target_rank``), the kNN
monitor's top-1 (``train/knn_top1``, where a run has it) and the learning rate, against the
iteration, from every run (``<timestamp>/vis_data/scalars.json``) of each work dir; a resumed run
continues the curve. Prints the path written.
"""
import argparse
import sys

from figures.curves import plot_curves
from suite.results import labelled_paths


def main() -> None:
    """Plot the curves of the work dirs named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('runs', nargs='+', metavar='LABEL=WORK_DIR',
                        help='a pretraining work dir under a label (e.g. ijepa=work_dirs/...)')
    parser.add_argument('--out', required=True, help='the PNG to write')
    args = parser.parse_args()
    try:
        print(plot_curves(labelled_paths(args.runs), args.out))
    except (OSError, ValueError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
