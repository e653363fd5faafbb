"""Time the paired bootstrap of COCO AP (tools/significance.py) on a COCO-sized evaluation.

    python tools/benchmark_significance.py [--images 5000] [--resamples 1000]

Fabricated ground truth (1 to 7 boxes an image, 80 categories) and two result sets, B slightly
better than A (benchmarks/significance.py). Prints one ``key: value`` per line: the data's
size, ``matching_seconds`` (pycocotools' per-image matching of both methods, done once),
``bootstrap_seconds`` and ``seconds_per_resample`` (the resamples of both methods' AP), the
bootstrap's result (``ap_a`` ... ``resamples``), then ``cocoeval_ap_a`` and ``cocoeval_seconds`` of
one full COCOeval of A (evaluate, accumulate, summarize) and ``cocoeval_runs_over_bootstrap``: how
many times longer as many full COCOeval runs as resamples would take than the bootstrap.
"""
import argparse

from benchmarks.significance import benchmark_significance


def main() -> None:
    """Run the benchmark the command line asks for and print its lines."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--images', type=int, default=5000,
                        help='images of the fabricated test set')
    parser.add_argument('--resamples', type=int, default=1000)
    args = parser.parse_args()
    for key, value in benchmark_significance(args.images, args.resamples).items():
        print(f'{key}: {value}')


if __name__ == '__main__':
    main()
