"""Draw DSeq-JEPA's saliency and ordered regions for images, from pretraining checkpoints.

    python tools/visualize_regions.py CHECKPOINT IMAGE [IMAGE ...] --out DIR
    python tools/visualize_regions.py WORK_DIR IMAGE [IMAGE ...] --out DIR   # every checkpoint

For each image, ``DIR/<image>.png`` shows the image, the saliency of the target encoder (the same
pass and block as in training), the Otsu foreground and the regions R1..RN over the image, numbered
in their order (RN, the rest, in grey). With a work dir (or several checkpoints) the last checkpoint
gives those pictures and ``DIR/regions_grid.png`` shows the regions of every image (columns) at
every checkpoint (rows, by iteration), to see how the order evolves during training.
"""
import argparse

from figures.regions import visualize


def main() -> None:
    """Draw the region pictures of the checkpoint(s) and images named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('checkpoint', help='a DSeq-JEPA pretraining checkpoint, or its work dir')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    print(visualize(args.checkpoint, args.images, args.out))


if __name__ == '__main__':
    main()
