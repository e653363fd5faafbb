"""Time a training iteration of the frozen dense linear probes (ADE20K segmentation, NYU-Depth v2
depth, lin. 1 and lin. 4) against UperNet's, side by side in one run (``benchmarks.dense_probes``).

    python tools/benchmark_dense_probes.py [--size 256] [--batch 2] [--iters 2]

Each model is its ViT-B/16 config's, with random weights, trained for one untimed and ``--iters``
timed iterations on ``--batch`` random ``--size`` x ``--size`` images (the recipes: 512 for ADE20K;
about 70 s an UperNet iteration on 2 CPU cores, so the default is 256). Peak memory is measured on
a GPU only.
"""
import argparse

from benchmarks.dense_probes import benchmark_dense_probes


def main() -> None:
    """Time the dense models as the command line says."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--size', type=int, default=256,
                        help='the square input side (the recipes: 512)')
    parser.add_argument('--batch', type=int, default=2, help='images per iteration (per GPU)')
    parser.add_argument('--iters', type=int, default=2, help='timed iterations, after one untimed')
    args = parser.parse_args()
    benchmark_dense_probes(args.size, args.batch, args.iters)


if __name__ == '__main__':
    main()
