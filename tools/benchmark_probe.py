"""Time a linear probe trained on cached features against one that re-encodes the images every
epoch, and the fast classification probe against the recipe of SPEC section 4b.

    python tools/benchmark_probe.py [--arch s] [--images 200] [--epochs 100] [--encode-epochs 2]

Both runs train the same heads with AdamW on the same synthetic CLEVR images (224x224, the probe's
batch of 256). The cached run is measured whole: one encoding pass plus every epoch on the features.
Re-encoding is measured over ``--encode-epochs`` epochs (each one an encoder pass over every image
plus the heads' step) and scaled to ``--epochs``, since its epochs all cost the same.

Then, on the same images and encoder, the cost ratio of the classification probes' training: the
recipe (configs/_base_/schedules/linear_sgd_28e.py: its epochs of re-encoded batches, SGD on
BatchNorm heads; measured over ``--encode-epochs`` epochs and scaled) against the fast probe
(linear_fast_grid.py: one encoding pass, then as many epochs of its grid of heads on the cached
features). On a GPU: --arch b --images 2000.
"""
import argparse

from benchmarks.probe import benchmark_probe


def main() -> None:
    """Time the cached probe against the re-encoding one, as the command line says."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--arch', default='s', help='ViT size of the frozen encoder')
    parser.add_argument('--images', type=int, default=200,
                        help='synthetic CLEVR scenes written; the train pool (90%%) is timed')
    parser.add_argument('--epochs', type=int, default=100)
    parser.add_argument('--encode-epochs', type=int, default=2,
                        help='re-encoding epochs actually timed')
    parser.add_argument('--batch', type=int, default=256, help="the probe's batch")
    args = parser.parse_args()
    benchmark_probe(args.arch, args.images, args.epochs, args.encode_epochs, args.batch)


if __name__ == '__main__':
    main()
