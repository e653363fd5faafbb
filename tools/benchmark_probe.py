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

Last, the attentive probe's training cost against the linear probe's on the same cached features
of ViT-B/16's shapes (``--attentive-images`` x 196 tokens x 768): each grid of heads
(configs/_base_/schedules/attentive_cached_20e.py's on the tokens, V-JEPA's depth-1 pooler and EP;
linear_fast_grid.py's on their average) per epoch of head training, over
``--attentive-epochs``, and the ViT-B/16 encoding pass both share, timed on
``--attentive-encode`` images (0: not timed). ``--only attentive`` runs that comparison alone,
``--only cache`` the others.
"""
import argparse

from benchmarks.probe import benchmark_attentive, benchmark_probe


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
    parser.add_argument('--attentive-images', type=int, default=256,
                        help='cached feature sets (196 x 768) of the attentive comparison')
    parser.add_argument('--attentive-epochs', type=int, default=2,
                        help='epochs of head training timed in the attentive comparison')
    parser.add_argument('--attentive-encode', type=int, default=32,
                        help='images the shared encoding pass is timed on (0: not timed)')
    parser.add_argument('--only', choices=('cache', 'attentive'),
                        help='run only the cache benchmarks or only the attentive comparison')
    args = parser.parse_args()
    if args.only != 'attentive':
        benchmark_probe(args.arch, args.images, args.epochs, args.encode_epochs, args.batch)
    if args.only != 'cache':
        benchmark_attentive(args.attentive_images, args.attentive_epochs, args.batch,
                            args.attentive_encode)


if __name__ == '__main__':
    main()
