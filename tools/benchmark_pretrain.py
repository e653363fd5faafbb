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
import functools
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from pretrain import DSeqJEPA, IJEPA, MultiBlockMaskSampler  # noqa: E402
from pretrain.predictor import Predictor  # noqa: E402
from pretrain.regions import _select_regions, select_regions  # noqa: E402
from pretrain.ijepa import gather_tokens  # noqa: E402

PREDICTOR_DEPTH = {'s': 6, 'b': 6, 'l': 12, 'h': 12}


class MaskedRows:
    """The step with padded rows and key masks instead of packed rows, in the context encoder and
    the predictor. ``full_length``: the context encoder runs over every token, hidden ones masked
    out (the released code's approach); otherwise over the gathered context tokens padded to the
    longest context (this suite before packing)."""
    full_length = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.predictor.__class__ = MaskedPredictor  # the same weights, masked attention

    def encode_context(self, images: torch.Tensor, keep: torch.Tensor,
                       keep_valid: Optional[torch.Tensor],
                       image_of: Optional[torch.Tensor] = None) -> torch.Tensor:
        enc = self.context_encoder
        real = torch.ones_like(keep, dtype=torch.bool) if keep_valid is None else keep_valid
        if self.full_length:
            patches = (images.shape[-2] // enc.patch_size) * (images.shape[-1] // enc.patch_size)
            visible = torch.zeros(keep.shape[0], patches, dtype=torch.long, device=keep.device)
            key_mask = visible.scatter_add_(1, keep, real.long()) > 0  # padding entries add nothing
        else:
            key_mask = real
        key_mask = F.pad(key_mask, (enc.num_prefix_tokens, 0), value=True)[:, None, None, :]
        out = enc.forward_features(images, None if self.full_length else keep, image_of=image_of,
                                   attn_mask=key_mask)[:, enc.num_prefix_tokens:]
        return gather_tokens(out, keep) if self.full_length else out


class MaskedPredictor(Predictor):
    """The predictor with padded sequences under key masks instead of packed sequences."""

    def predict(self, context: torch.Tensor, context_pos: torch.Tensor, query_pos: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None, valid: Optional[torch.Tensor] = None,
                repeats: int = 1) -> torch.Tensor:
        if valid is not None:
            attn_mask = valid[:, None, None, :]
        return super().predict(context, context_pos, query_pos, attn_mask, repeats=repeats)


class PaddedIJEPA(MaskedRows, IJEPA):
    pass


class FullLengthIJEPA(MaskedRows, IJEPA):
    full_length = True


class FullLengthDSeqJEPA(MaskedRows, DSeqJEPA):
    full_length = True


#: variant -> (model class, extra model arguments)
VARIANTS: Dict[str, tuple] = {
    'gathered': (IJEPA, {}),
    'padded': (PaddedIJEPA, {}),
    'full': (FullLengthIJEPA, {}),
    'dseq-prefix': (DSeqJEPA, dict(mode='prefix', curriculum=False)),
    'dseq-causal': (DSeqJEPA, dict(mode='causal', curriculum=False)),
    'dseq-full': (FullLengthDSeqJEPA, dict(mode='prefix', curriculum=False)),
    'gathered-compiled': (IJEPA, dict(compile_blocks=True)),
    'dseq-prefix-compiled': (DSeqJEPA, dict(mode='prefix', curriculum=False, compile_blocks=True)),
}


def time_region_selection(model: DSeqJEPA, images: torch.Tensor, device: torch.device,
                          repeats: int) -> Dict[str, float]:
    """Seconds per call of select_regions on this batch's saliency, of its kernels launched one by
    one (``eager``; on a GPU select_regions replays a CUDA graph), and of the OpenCV loop."""
    import cv2  # the reference, only for the comparison
    import numpy as np
    sal = model.target_pass(images)[1]
    ours = functools.partial(select_regions, num_regions=model.num_regions, min_area=model.min_area)
    eager = functools.partial(_select_regions, num_regions=model.num_regions,
                              min_area=model.min_area)
    ours(sal)  # on a GPU the first call per shape captures the graph
    sync(device)
    if device.type == 'cuda':
        torch.cuda.set_sync_debug_mode('error')  # raises on any device-to-host wait
    try:
        ours(sal)
        eager(sal)
    finally:
        if device.type == 'cuda':
            torch.cuda.set_sync_debug_mode('default')
    result = {}
    for name, fn in (('ours', ours), ('eager', eager)):
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            fn(sal)
        sync(device)
        result[name] = (time.perf_counter() - start) / repeats
    maps = sal.cpu().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        for m in maps:
            levels = np.floor(m * np.float32(255)).astype(np.uint8)
            t, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            count, labels = cv2.connectedComponents((levels > t).astype(np.uint8), connectivity=8)
            for c in range(1, count):
                mask = labels == c
                if mask.sum() >= model.min_area * m.size:
                    m[mask].astype(np.float64).mean()
    result['opencv'] = (time.perf_counter() - start) / repeats
    return result


def make_step(model: IJEPA, device: torch.device, fused: bool = False) -> Callable:
    params = [p for p in model.parameters() if p.requires_grad]
    # The configs' AdamW is torch's default implementation (foreach on CUDA), not the fused one.
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05, fused=fused or None)

    def step(images: torch.Tensor, masks: Dict) -> None:
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=device.type == 'cuda'):
            loss = model.loss(images, masks)['loss']
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        model.update_target(0.996)
    return step


def profile(step: Callable, batches: List, device: torch.device, rows: int) -> None:
    """Print the operators that take the most time over a few steps, and the device's busy share."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    batches = batches[:3]
    sync(device)
    start = time.perf_counter()
    with torch.profiler.profile(activities=activities) as prof:
        for images, masks in batches:
            step(images, masks)
        sync(device)
    wall = (time.perf_counter() - start) / len(batches)
    events = prof.key_averages()
    sort = 'self_device_time_total' if device.type == 'cuda' else 'self_cpu_time_total'
    print(events.table(sort_by=sort, row_limit=rows))
    if device.type == 'cuda':  # kernels only: an operator's row repeats its kernels' time
        busy = sum(e.self_device_time_total for e in events
                   if e.device_type == DeviceType.CUDA and not e.is_user_annotation)
        busy = busy / 1e6 / len(batches)
        print(f'profiled: {wall * 1e3:.1f} ms/step wall, device kernels {busy * 1e3:.1f} ms/step '
              f'({100 * busy / wall:.0f}% busy)')


def compiled_block_halves(run: Callable[[], None], model: torch.nn.Module) -> Tuple[int, int]:
    """How many block halves ran compiled code during ``run()``, and how many ran in all."""
    from backbones.vit import Block
    calls = [0]

    def count(*_) -> None:
        calls[0] += 1
    hooks = [m.register_forward_pre_hook(count) for m in model.modules() if isinstance(m, Block)]
    try:  # the profiler records what ran, not what was compiled
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            run()
    finally:
        for hook in hooks:
            hook.remove()
    ran = sum(e.name.startswith('Torch-Compiled Region') for e in prof.events())
    return ran, 2 * calls[0]


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def main() -> None:
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

    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    models = {}
    for name in args.variants:
        cls, extra = VARIANTS[name]
        extra = dict(extra)
        compiled = extra.pop('compile_blocks', False)
        torch.manual_seed(0)
        models[name] = cls(encoder=dict(arch=args.arch, img_size=args.img, patch_size=args.patch,
                                        compile_blocks=compiled),
                           predictor=dict(width=384, depth=PREDICTOR_DEPTH[args.arch],
                                          compile_blocks=compiled),
                           **extra).to(device)
    sampler = MultiBlockMaskSampler(input_size=args.img, patch_size=args.patch)
    batches: List = []
    for s in range(args.steps + args.warmup):
        masks = sampler(args.batch, step=s, rank=0)
        masks = {k: None if v is None else v.to(device) for k, v in masks.items()}
        masks['step'] = s
        batches.append((torch.randn(args.batch, 3, args.img, args.img, device=device), masks))
    steps = {v: make_step(models[v], device, args.fused_adamw) for v in args.variants}

    flops = {}
    for name, step in list(steps.items()):
        try:
            start = time.perf_counter()
            for images, masks in batches[:args.warmup]:
                step(images, masks)
            sync(device)
            print(f'  {name}: {args.warmup} warm-up steps in {time.perf_counter() - start:.1f} s')
            with FlopCounterMode(display=False) as counter:  # compiled blocks run eagerly here
                step(*batches[0])
        except Exception as error:  # report it and measure the other variants
            print(f'  {name}: failed, left out: {type(error).__name__}: {str(error)[:300]}')
            del steps[name]
            continue
        flops[name] = counter.get_total_flops()
    sync(device)
    variants = list(steps)
    if args.profile:
        profile(steps[variants[0]], batches[args.warmup:], device, args.profile)

    times = {v: [] for v in steps}
    peak = {}
    for _ in range(args.repeats):
        for name, step in steps.items():
            if device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats()
            sync(device)
            start = time.perf_counter()
            for images, masks in batches[args.warmup:]:
                step(images, masks)
            sync(device)
            times[name].append((time.perf_counter() - start) / args.steps)
            if device.type == 'cuda':
                peak[name] = torch.cuda.max_memory_allocated() / 2 ** 30

    where = torch.cuda.get_device_name() if device.type == 'cuda' else f'CPU ({torch.get_num_threads()} threads)'
    precision = 'bf16 autocast' if device.type == 'cuda' else 'fp32'
    precision += ', fused AdamW' if args.fused_adamw else ''
    print(f'ViT-{args.arch.upper()}/{args.patch} at {args.img}, batch {args.batch}, {precision}, '
          f'{where}; median of {args.repeats} repeats x {args.steps} steps')
    base = statistics.median(times[variants[0]])
    for name in steps:
        t = statistics.median(times[name])
        line = (f'  {name:20s} {t * 1e3:9.1f} ms/step  {args.batch / t:9.1f} images/s  '
                f'{flops[name] / args.batch / 1e9:6.1f} GFLOP/image  x{t / base:.2f} vs '
                f'{variants[0]}')
        if device.type == 'cuda':
            achieved = flops[name] / t / 1e12
            line += (f'  {peak[name]:.1f} GiB peak  {achieved:.0f} TFLOP/s '
                     f'({100 * achieved / args.peak_tflops:.0f}% of {args.peak_tflops:.0f})')
        print(line)
    for name in steps:
        if VARIANTS[name][1].get('compile_blocks'):
            try:  # one more optimiser step
                ran, halves = compiled_block_halves(lambda: steps[name](*batches[0]), models[name])
                graphs = torch._dynamo.utils.counters['stats']['unique_graphs']
                print(f'  {name}: {ran} of {halves} block halves ran compiled ({graphs} graphs '
                      'compiled in all)')
            except Exception as error:  # keep the timings above
                print(f'  {name}: counting compiled regions failed: {type(error).__name__}: '
                      f'{str(error)[:300]}')
    if 'dseq-full' in steps:
        full = statistics.median(times['dseq-full'])
        for name in ('dseq-prefix', 'dseq-causal'):
            if name in steps:
                print(f'  {name} / dseq-full: x{statistics.median(times[name]) / full:.2f}')
    dseq = [v for v in variants if v.startswith('dseq')]
    if dseq:
        model = models[dseq[0]]
        with torch.no_grad():
            regions = model.targets_and_regions(batches[0][0])[1]
        found = regions[:, :-1].any(-1).sum(1)
        print(f'  regions per image in this batch: none {(found == 0).float().mean():.0%}, '
              f'one {(found == 1).float().mean():.0%}, more {(found > 1).float().mean():.0%}')
        images = torch.randn(args.regions_batch, 3, args.img, args.img, device=device)
        t = time_region_selection(model, images, device, args.repeats)
        own = time_region_selection(model, batches[0][0], device, args.repeats)['ours']
        step = statistics.median(times[dseq[0]])
        print(f'  region selection, {args.regions_batch} maps of {args.img // args.patch}x'
              f'{args.img // args.patch}: {t["ours"] * 1e3:.1f} ms (kernels launched one by one '
              f'{t["eager"] * 1e3:.1f} ms; per-image OpenCV loop {t["opencv"] * 1e3:.1f} ms, '
              f'x{t["ours"] / t["opencv"]:.2f}); at batch {args.batch}: {own * 1e3:.1f} ms, '
              f'{100 * own / step:.2f}% of a {dseq[0]} step')

if __name__ == '__main__':
    main()
