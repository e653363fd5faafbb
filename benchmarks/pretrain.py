"""The pretraining benchmark (``tools/benchmark_pretrain.py``): whole training steps of several
variants, alternated within each repeat under the same machine load, and the report of their
median times, FLOPs, memory, compiled blocks and region selection."""
import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from pretrain import MultiBlockMaskSampler
from benchmarks.devices import describe_device, sync
from benchmarks.step_timing import compiled_block_halves, make_step, profile, time_region_selection
from benchmarks.step_variants import VARIANTS, build_variant

Batch = Tuple[torch.Tensor, Dict]


def draw_batches(count: int, batch: int, img: int, patch: int, device: torch.device) -> List[Batch]:
    """Random images with masks from the real sampler, drawn beforehand as the data workers do."""
    sampler = MultiBlockMaskSampler(input_size=img, patch_size=patch)
    batches = []
    for s in range(count):
        masks = sampler(batch, step=s, rank=0)
        masks = {k: v.to(device) if torch.is_tensor(v) else v for k, v in masks.items()}
        masks['step'] = s
        batches.append((torch.randn(batch, 3, img, img, device=device), masks))
    return batches


def warm_up(steps: Dict[str, Callable], batches: List[Batch], warmup: int,
            device: torch.device) -> Dict[str, float]:
    """Run each step's warm-up and count the FLOPs of one step; a variant that fails is reported
    and dropped from ``steps``, so that the others are still measured."""
    flops = {}
    for name, step in list(steps.items()):
        try:
            start = time.perf_counter()
            for images, masks in batches[:warmup]:
                step(images, masks)
            sync(device)
            print(f'  {name}: {warmup} warm-up steps in {time.perf_counter() - start:.1f} s')
            with FlopCounterMode(display=False) as counter:  # compiled blocks run eagerly here
                step(*batches[0])
        except Exception as error:  # report it and measure the other variants
            print(f'  {name}: failed, left out: {type(error).__name__}: {str(error)[:300]}')
            del steps[name]
            continue
        flops[name] = counter.get_total_flops()
    sync(device)
    return flops


def time_steps(steps: Dict[str, Callable], batches: List[Batch], repeats: int,
               device: torch.device) -> Tuple[Dict[str, List[float]], Dict[str, float]]:
    """Seconds per step of each variant in each repeat (variants alternating within a repeat), and
    each one's peak memory in GiB on a GPU."""
    times: Dict[str, List[float]] = {v: [] for v in steps}
    peak = {}
    for _ in range(repeats):
        for name, step in steps.items():
            if device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats()
            sync(device)
            start = time.perf_counter()
            for images, masks in batches:
                step(images, masks)
            sync(device)
            times[name].append((time.perf_counter() - start) / len(batches))
            if device.type == 'cuda':
                peak[name] = torch.cuda.max_memory_allocated() / 2 ** 30
    return times, peak


def report_times(args: argparse.Namespace, times: Dict[str, List[float]], flops: Dict[str, float],
                 peak: Dict[str, float], device: torch.device) -> None:
    """The median time of each variant, its throughput and FLOPs, against the first variant."""
    precision = 'bf16 autocast' if device.type == 'cuda' else 'fp32'
    precision += ", torch's default AdamW" if args.default_adamw else ', fused AdamW'
    print(f'ViT-{args.arch.upper()}/{args.patch} at {args.img}, batch {args.batch}, {precision}, '
          f'{describe_device(device)}; median of {args.repeats} repeats x {args.steps} steps')
    first = next(iter(times))
    base = statistics.median(times[first])
    for name in times:
        t = statistics.median(times[name])
        line = (f'  {name:20s} {t * 1e3:9.1f} ms/step  {args.batch / t:9.1f} images/s  '
                f'{flops[name] / args.batch / 1e9:6.1f} GFLOP/image  x{t / base:.2f} vs {first}')
        if device.type == 'cuda':
            achieved = flops[name] / t / 1e12
            line += (f'  {peak[name]:.1f} GiB peak  {achieved:.0f} TFLOP/s '
                     f'({100 * achieved / args.peak_tflops:.0f}% of {args.peak_tflops:.0f})')
        print(line)


def report_compiled(steps: Dict[str, Callable], models: Dict[str, torch.nn.Module],
                    batch: Batch) -> None:
    """For each compiled variant, how many block halves ran compiled code in one more step."""
    for name in steps:
        if VARIANTS[name][1].get('compile_blocks'):
            try:  # one more optimiser step
                ran, halves = compiled_block_halves(lambda name=name: steps[name](*batch),
                                                    models[name])
                graphs = torch._dynamo.utils.counters['stats']['unique_graphs']
                print(f'  {name}: {ran} of {halves} block halves ran compiled ({graphs} graphs '
                      'compiled in all)')
            except Exception as error:  # keep the timings above
                print(f'  {name}: counting compiled regions failed: {type(error).__name__}: '
                      f'{str(error)[:300]}')


def report_dseq(args: argparse.Namespace, times: Dict[str, List[float]],
                models: Dict[str, torch.nn.Module], batch: Batch, device: torch.device) -> None:
    """The DSeq modes against ``dseq-full``; how many regions the first DSeq variant found per
    image, and what selecting them costs against the per-image OpenCV loop and against its step."""
    if 'dseq-full' in times:
        full = statistics.median(times['dseq-full'])
        for name in ('dseq-prefix', 'dseq-causal'):
            if name in times:
                print(f'  {name} / dseq-full: x{statistics.median(times[name]) / full:.2f}')
    dseq = [v for v in times if v.startswith('dseq')]
    if not dseq:
        return
    name, model = dseq[0], models[dseq[0]]
    with torch.no_grad():
        regions = model.targets_and_regions(batch[0])[1]
    found = regions[:, :-1].any(-1).sum(1)
    print(f'  regions per image in this batch: none {(found == 0).float().mean():.0%}, '
          f'one {(found == 1).float().mean():.0%}, more {(found > 1).float().mean():.0%}')
    images = torch.randn(args.regions_batch, 3, args.img, args.img, device=device)
    t = time_region_selection(model, images, device, args.repeats)
    own = time_region_selection(model, batch[0], device, args.repeats)['ours']
    print(f'  region selection, {args.regions_batch} maps of {args.img // args.patch}x'
          f'{args.img // args.patch}: {t["ours"] * 1e3:.1f} ms (kernels launched one by one '
          f'{t["eager"] * 1e3:.1f} ms; per-image OpenCV loop {t["opencv"] * 1e3:.1f} ms, '
          f'x{t["ours"] / t["opencv"]:.2f}); at batch {args.batch}: {own * 1e3:.1f} ms, '
          f'{100 * own / statistics.median(times[name]):.2f}% of a {name} step')
    for title, ops, key, fused in [
            ('Otsu\'s scan', 'three operations per bin', 'otsu_loop', 'otsu_kernel'),
            ('Connected components', 'rounds of torch operations', 'components_rounds',
             'components_kernel')]:
        kernel = f', one Triton kernel {t[fused] * 1e3:.2f} ms' if fused in t else ''
        print(f'  {title} alone, {args.regions_batch} maps: {ops} {t[key] * 1e3:.2f} ms{kernel}')


def benchmark(args: argparse.Namespace) -> None:
    """Build, warm up, time and report the variants of ``args`` (``tools/benchmark_pretrain.py``'s
    options)."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    models = {name: build_variant(name, args.arch, args.img, args.patch).to(device)
              for name in args.variants}
    batches = draw_batches(args.steps + args.warmup, args.batch, args.img, args.patch, device)
    steps = {v: make_step(models[v], device, not args.default_adamw) for v in args.variants}
    flops = warm_up(steps, batches, args.warmup, device)
    if args.profile:
        profile(next(iter(steps.values())), batches[args.warmup:], device, args.profile)
    times, peak = time_steps(steps, batches[args.warmup:], args.repeats, device)
    report_times(args, times, flops, peak, device)
    report_compiled(steps, models, batches[0])
    report_dseq(args, times, models, batches[0], device)
