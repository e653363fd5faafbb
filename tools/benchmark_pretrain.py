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
  report adds the region selection's share of the step and its time against the per-image OpenCV
  loop (on a GPU under ``torch.cuda.set_sync_debug_mode('error')``: it fails if selection waits for
  the host).
* ``dseq-full``: the prefix-mode DSeq step with each step's context encoder run over all tokens
  under a key mask, as the released DSeq-JEPA code does; the dseq modes are also reported against
  it.
* ``gathered-compiled`` / ``dseq-prefix-compiled``: those steps with ``compile_blocks`` in the
  encoders and the predictor (the blocks' token-wise layers through ``torch.compile``); the report
  adds what dynamo compiled, so a fallback to eager code shows.

Variants alternate within each repeat and the median time is reported, so ratios are measured under
the same machine load. On a GPU the step runs in bf16 autocast and the report adds peak memory and
FLOP utilisation (FLOPs counted by ``torch.utils.flop_counter`` over one step). The step's AdamW is
torch's fused one, as in the configs (``--default-adamw`` for torch's default implementation).

    python tools/benchmark_pretrain.py --runner [CONFIG] [--batch 16] [--workers 0]
                                       [--log-interval 5]

``--runner`` times iterations of the real training loop instead: ``tools/train.py``'s Runner on a
pretraining config (default: ViT-B/16 on a GPU, the tiny suite encoder on CPU) with its hooks and
logging, reading real JPEG photographs from a temporary folder, against the bare step of a model
built from the same config on the same batches, alternated in blocks of ``--steps`` iterations
(``--repeats`` blocks after ``--warmup`` iterations). It prints both in ms per iteration, the
Runner's overhead in ms and as a ratio, the part of it spent waiting for data, and the host's waits
for the device per iteration, for logging and other iterations apart: on a GPU the synchronisations
of ``torch.cuda.set_sync_debug_mode('warn')``, on CPU the reads of device values that would wait on
one (``benchmarks/host_reads.py``). ``--batch``, ``--workers`` and ``--log-interval`` default to the
config's on a GPU.
"""
import argparse

from benchmarks.pretrain import benchmark
from benchmarks.runner import benchmark_runner
from benchmarks.step_variants import PREDICTOR_DEPTH, VARIANTS


def main() -> None:
    """Time the pretraining steps of the variants named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--arch', default='s', choices=sorted(PREDICTOR_DEPTH))
    parser.add_argument('--batch', type=int,
                        help='images per step (default 32; with --runner: 16 on CPU, the '
                        "config's on a GPU)")
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
    parser.add_argument('--default-adamw', action='store_true',
                        help="torch's default AdamW instead of the fused one (the configs' choice)")
    parser.add_argument('--runner', nargs='?', const='', metavar='CONFIG',
                        help="time the Runner's iterations of a pretraining config against the "
                        'bare step instead (default config: ViT-B/16 on a GPU, the tiny suite '
                        'encoder on CPU)')
    parser.add_argument('--workers', type=int,
                        help="with --runner: data workers (default: 0 on CPU, the config's on a "
                        'GPU)')
    parser.add_argument('--log-interval', type=int,
                        help="with --runner: a log line every N iterations (default: 5 on CPU, the "
                        "config's on a GPU)")
    parser.add_argument('--peak-tflops', type=float, default=989.0,
                        help='dense bf16 peak of the GPU (H100/H200 SXM: 989)')
    args = parser.parse_args()
    if args.runner is not None:
        import torch
        cpu = not torch.cuda.is_available()
        benchmark_runner(args.runner or None, args.batch or (16 if cpu else None), args.steps,
                         args.repeats, args.warmup,
                         0 if cpu and args.workers is None else args.workers,
                         args.log_interval or (5 if cpu else None))
        return
    args.batch = args.batch or 32
    benchmark(args)


if __name__ == '__main__':
    main()
