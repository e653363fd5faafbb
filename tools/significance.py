"""Is B's COCO AP better than A's beyond the luck of the test images? A paired bootstrap.

    python tools/significance.py --gt GT_JSON A.bbox.json B.bbox.json [--iou-type bbox|segm]
                                 [--resamples 1000] [--seed 0]

Both result files are evaluated once per image with pycocotools; the same resamples of the images
(with replacement) are applied to both (``suite/significance.py``). Prints one ``key: value`` per
line: ``ap_a``, ``ap_b`` (AP in %, IoU 0.50:0.95), ``delta`` (B - A), ``ci_low`` / ``ci_high``
(2.5 / 97.5 percentiles of the resampled deltas), ``p_le_0`` (share of resampled deltas <= 0) and
``resamples``. A result file whose scores are not all finite numbers, or with a box that is not 4
numbers (x, y, w, h), is refused with its name.
"""
import argparse
import sys

from suite.significance import as_lines, coco_ap_bootstrap


def at_least_one(text: str) -> int:
    """``--resamples``: a whole number of at least 1 (no resample gives no interval)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def main() -> None:
    """Print the bootstrap of the two result files named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--gt', required=True, help='COCO ground-truth JSON')
    parser.add_argument('result_a')
    parser.add_argument('result_b')
    parser.add_argument('--iou-type', choices=('bbox', 'segm'), default='bbox')
    parser.add_argument('--resamples', type=at_least_one, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    try:
        result = coco_ap_bootstrap(args.gt, args.result_a, args.result_b, args.iou_type,
                                   args.resamples, args.seed)
    except (OSError, ValueError) as e:
        sys.exit(f'error: {e}')
    for key, value in as_lines(result):
        print(f'{key}: {value}')


if __name__ == '__main__':
    main()
