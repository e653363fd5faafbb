"""Draw the paper's patch clusters (SPEC section 4c) over images, for every checkpoint of
pretraining runs, the methods side by side.

    python tools/visualize_clusters.py LABEL=PATH [LABEL=PATH ...] --images IMG [IMG ...] --out DIR
                                       [--k 5]

PATH is a pretraining work dir (every checkpoint in it, by iteration) or one checkpoint, of I-JEPA
or DSeq-JEPA. For each image, ``DIR/clusters_<image stem>.png`` shows a row per checkpoint and, per
LABEL, a column per block (3, 5, 7, 11 of 12, the same fractions of other depths): the k spectral
clusters of the target encoder's patch outputs of that block drawn over the image. Colours have no
meaning across panels. Prints the paths written.
"""
import argparse
import sys

from figures.patch_clusters import visualize_clusters
from suite.results import labelled_paths


def main() -> None:
    """Draw the cluster pictures of the runs and images named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('runs', nargs='+', metavar='LABEL=PATH',
                        help='a pretraining work dir or checkpoint, under a label (e.g. ijepa=...)')
    parser.add_argument('--images', nargs='+', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--k', type=int, default=5, help='clusters per picture')
    args = parser.parse_args()
    try:
        written = visualize_clusters(labelled_paths(args.runs), args.images, args.out, args.k)
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f'error: {e}')
    print('\n'.join(written))


if __name__ == '__main__':
    main()
