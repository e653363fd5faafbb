"""Time pretraining steps and compare variants side by side in one run.

    python tools/benchmark_pretrain.py [--arch s] [--batch 32] [--img 224] [--patch 16]
                                       [--steps 5] [--repeats 3] [--variants gathered full]

A step is the whole training step: target pass, context pass, predictor, loss, backward, AdamW
update and EMA update, on random images with masks from the real sampler (drawn beforehand, as the
data workers do). Variants:

* ``gathered``: the suite's step; the context encoder sees only the context tokens, and contexts
  of different lengths are packed (no padding computed) in the encoder and the predictor.
* ``padded``: the same step with padded rows under key masks instead of packed rows.
* ``full``: the same step with the context encoder run over all tokens, hidden ones masked out of
  attention (the approach of the released DSeq-JEPA code), and padded rows in the predictor.
* ``dseq-prefix`` / ``dseq-causal``: a DSeq-JEPA step (every step a DSeq step) in each mode; the
  report adds the region selection's share of the step and its time against the per-image OpenCV loop
  (on a GPU under ``torch.cuda.set_sync_debug_mode('error')``: it fails if selection waits for the host).
* ``dseq-full``: the prefix-mode DSeq step with each step's context encoder run over all tokens under
  a key mask, as the released DSeq-JEPA code does; the dseq modes are also reported against it.
* ``gathered-compiled`` / ``dseq-prefix-compiled``: those steps with ``compile_blocks`` in the
  encoders and the predictor (the blocks' token-wise layers through ``torch.compile``); the report
  adds what dynamo compiled, so a fallback to eager code shows.

Variants alternate within each repeat and the median time is reported, so ratios are measured under
the same machine load. On a GPU the step runs in bf16 autocast and the report adds peak memory and
FLOP utilisation (FLOPs counted by ``torch.utils.flop_counter`` over one step).
"""
import argparse

from suite.benchmark_pretrain import benchmark
from suite.step_variants import PREDICTOR_DEPTH, VARIANTS


def main() -> None:
    """Time the pretraining steps of the variants named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--arch', default='s', choices=sorted(PREDICTOR_DEPTH))
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--img', type=int, default=224)
    parser.add_argument('--patch', type=int, default=16)
    parser.add_argument('--steps', type=int, default=5, help='timed steps per repeat')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--variants', nargs='+', default=['gathered', 'padded', 'full'],
                        choices=VARIANTS)
    parser.add_argument('--regions-batch', type=int, default=256,
                        help='batch of saliency maps for timing region selection')
    parser.add_argument('--profile', type=int, default=0, metavar='ROWS',
                        help="print the profiler's top ROWS operators of the first variant's step")
    parser.add_argument('--fused-adamw', action='store_true',
                        help="fused AdamW instead of torch's default (the configs' choice)")
    parser.add_argument('--peak-tflops', type=float, default=989.0,
                        help='dense bf16 peak of the GPU (H100/H200 SXM: 989)')
    args = parser.parse_args()
    benchmark(args)


if __name__ == '__main__':
    main()
