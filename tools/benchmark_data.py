"""Time the pretraining input pipeline on one CPU core: the suite's loader, built from
configs/_base_/pretrain/jepa_in1k.py's train_dataloader (decode, RandomResizedCrop(224, scale
0.3-1.0), the multi-block mask collate), against torchvision's ImageFolder + RandomResizedCrop +
ToTensor with Pillow and the default collate, over the same batches of the same JPEGs.

    python tools/benchmark_data.py [--images DIR] [--num-images 4096] [--seed 0]

Without --images it writes a few hundred real photographs (scikit-image's sample images, cropped at
random and re-encoded at ImageNet's sizes, 300-500 px, and JPEG qualities, 75-95) to a temporary
folder. Each pipeline runs in this process on one thread, without DataLoader workers, so its
images/s is per core; cores_per_gpu is how many cores feed one GPU taking 2700 images/s. The
device_decode_workers lines time what the workers still do with decode='device' in the config's
dataset (read each file, parse its header, draw the crop box, the mask collate); on a GPU,
device_decode_gpu is the rate at which the model's data preprocessor decodes (nvJPEG), crops and
normalises those batches there.
"""
import argparse
import tempfile

from benchmarks.data import benchmark_data, link_jpegs, make_photos

PHOTOS = 300


def main() -> None:
    """Write or link the JPEGs, then time both pipelines, as the command line says."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--images', metavar='DIR',
                        help='time these JPEGs (found recursively) instead of the sample photos')
    parser.add_argument('--num-images', type=int, default=4096,
                        help='images timed per pipeline, after one batch of warm-up')
    parser.add_argument('--seed', type=int, default=0,
                        help="seeds the photos and both pipelines' crops (and the masks)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        if args.images:
            try:
                link_jpegs(args.images, root)
            except FileNotFoundError as err:  # a usage error: the message, not a traceback
                parser.error(str(err))
        else:
            make_photos(root, PHOTOS, args.seed)
        benchmark_data(root, args.num_images, args.seed)


if __name__ == '__main__':
    main()
