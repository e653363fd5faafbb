"""Timing and profiling helpers of the pretraining benchmark: one whole training step, the device's
busy share, which blocks ran compiled code, and region selection against the OpenCV loop."""
import time
from typing import Callable, Dict, List, Tuple

import torch

from pretrain import DSeqJEPA, IJEPA, region_kernels
from pretrain.dseq import encoder_saliency
from pretrain.regions import (label_components, otsu_foreground, otsu_threshold, quantise,
                             select_regions, select_regions_eager)
from benchmarks.devices import sync


def time_region_selection(model: DSeqJEPA, images: torch.Tensor, device: torch.device,
                          repeats: int) -> Dict[str, float]:
    """Seconds per call of select_regions on this batch's saliency, of its kernels launched one by
    one (``eager``; on a GPU select_regions replays a CUDA graph), of the OpenCV loop, and of its
    two loops alone: Otsu's scan as torch's three operations per bin (``otsu_loop``) and the
    connected components as torch's rounds (``components_rounds``), and on a GPU with Triton each
    as one kernel (``otsu_kernel``, ``components_kernel``)."""
    import cv2  # the reference, only for the comparison
    import numpy as np
    sal = encoder_saliency(model.target_encoder, images, model.saliency_block)[1]
    levels = quantise(sal).flatten(1)
    foreground = otsu_foreground(sal)
    calls = {'ours': lambda: select_regions(sal, model.num_regions, model.min_area),
             'eager': lambda: select_regions_eager(sal, model.num_regions, model.min_area),
             'otsu_loop': lambda: otsu_threshold(levels, fused=False),
             'components_rounds': lambda: label_components(foreground, fused=False)}
    if device.type == 'cuda' and region_kernels.available():
        calls['otsu_kernel'] = lambda: otsu_threshold(levels, fused=True)
        calls['components_kernel'] = lambda: label_components(foreground, fused=True)
    calls['ours']()  # on a GPU the first call per shape captures the graph
    sync(device)
    if device.type == 'cuda':
        torch.cuda.set_sync_debug_mode('error')  # raises on any device-to-host wait
    try:
        for call in calls.values():
            call()
    finally:
        if device.type == 'cuda':
            torch.cuda.set_sync_debug_mode('default')
    result = {}
    for name, call in calls.items():
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            call()
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


def make_step(model: IJEPA, device: torch.device, fused: bool = True) -> Callable:
    """A whole training step of ``model`` (loss, backward, AdamW update, EMA update) as a function
    of a batch of images and their masks; AdamW is torch's fused one, as in the configs, or with
    ``fused=False`` torch's default implementation (foreach on CUDA)."""
    params = [p for p in model.parameters() if p.requires_grad]
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
