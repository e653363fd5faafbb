"""DSeq-JEPA region selection (SPEC section 3, point 3), batched in torch on the saliency's device.

Per image: quantise the normalised saliency to ``floor(255 * s)``, threshold it with Otsu's method
on the 256-bin histogram (foreground strictly above the threshold), label the 8-connected foreground
components, drop those smaller than ``min_area * h * w`` patches, rank the rest by mean saliency
(ties: the component whose first pixel comes first in raster order ranks first) and keep the top
``num_regions - 1``; the last region is every other patch.

The result equals OpenCV applied image by image (``cv2.threshold`` with ``THRESH_OTSU`` and
``cv2.connectedComponents`` with connectivity 8): Otsu's between-class variances are accumulated bin
by bin in float64 in the same order as OpenCV, because mathematically tied thresholds are decided by
that rounding. (x86 builds of OpenCV route Otsu through Intel IPP by default, which computes in
another precision and disagrees with OpenCV's own code on exact ties, e.g. 58/80/58 patches at
levels 0/127/254: OpenCV's code returns 0, IPP 127. The reference here is OpenCV's own code, the
same on every machine: ``cv2.ipp.setUseIPP(False)``.)
"""
import math
import numbers
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from . import region_kernels
from .region_kernels import FLT_EPSILON

__all__ = ['check_min_area', 'select_regions', 'select_regions_eager', 'quantise',
           'otsu_threshold', 'otsu_foreground', 'label_components']


def quantise(saliency: torch.Tensor) -> torch.Tensor:
    """(B, ...) normalised saliency -> int64 levels ``floor(255 * s)`` clipped to [0, 255]."""
    return torch.floor(saliency * 255).clamp_(0, 255).long()


def otsu_threshold(levels: torch.Tensor, fused: Optional[bool] = None) -> torch.Tensor:
    """Otsu threshold (B,) of each row of ``levels`` (B, N), as OpenCV computes it for 8-bit images.

    OpenCV scans the 256 bins in float64, updating the class weight q1 and mean mu1 as it goes, and
    keeps the first bin of largest between-class variance. Exact ties are decided by that rounding,
    so both running values are computed with the same operations in the same order. ``fused`` runs
    the scan as one Triton kernel (:mod:`pretrain.region_kernels`), the default on a GPU where
    Triton is installed; otherwise q1 is a cumsum over the bins (a sequential sum per column, on
    the CPU and on CUDA's outer-dimension scan) and mu1 a loop over the bins of three in-place
    operations on the whole batch.
    """
    b, n = levels.shape
    device = levels.device
    # a spare column: a cumsum over a single column would take CUDA's parallel (reassociating) scan
    hist = torch.zeros(256, b + 1, dtype=torch.float64, device=device)
    hist.scatter_add_(0, levels.t(), torch.ones(n, b, dtype=torch.float64, device=device))
    if fused is None:
        fused = levels.is_cuda and region_kernels.available()
    if fused:
        return region_kernels.otsu_scan(hist[:, :b], n)
    scale = 1.0 / n
    bins = torch.arange(256, dtype=torch.float64, device=device)[:, None]
    p = hist * scale
    q1 = p.cumsum(0)[:, :b]
    p, hist = p[:, :b], hist[:, :b]
    mu = (hist * bins).sum(0) * scale  # a sum of integers: exact in any order
    ip = bins * p
    q2 = 1.0 - q1
    # q1 grows with the bin, so the invalid bins are a run at each end; before the first valid bin
    # mu1 stays 0 whatever the divisor, after the last one it is never used
    valid = (torch.minimum(q1, q2) >= FLT_EPSILON) & (torch.maximum(q1, q2) <= 1.0 - FLT_EPSILON)
    divisor = torch.where(valid, q1, 1.0)
    q1_before = torch.cat([torch.zeros_like(q1[:1]), q1[:-1]])
    mu1 = torch.empty_like(p)
    previous = torch.zeros(b, dtype=torch.float64, device=device)
    # rows as views made once: indexing inside the loop would dispatch five more ops per bin
    rows = zip(mu1.unbind(0), q1_before.unbind(0), ip.unbind(0), divisor.unbind(0))
    for out, weight, moment, div in rows:  # mu1 = (mu1 * q1_before + i * p_i) / q1, as OpenCV
        previous = torch.mul(previous, weight, out=out).add_(moment).div_(div)
    mu2 = (mu - q1 * mu1) / q2
    sigma = torch.where(valid, q1 * q2 * (mu1 - mu2) * (mu1 - mu2), -torch.inf)
    best, threshold = sigma.max(0)  # the first bin of the largest variance, as OpenCV's strict >
    return torch.where(best > 0, threshold, 0)


def otsu_foreground(saliency: torch.Tensor) -> torch.Tensor:
    """(B, h, w) saliency -> (B, h, w) bool: quantised levels strictly above each map's Otsu
    threshold."""
    levels = quantise(saliency).flatten(1)
    return (levels > otsu_threshold(levels)[:, None]).view(saliency.shape)


def label_components(foreground: torch.Tensor, stop_early: Optional[bool] = None,
                     fused: Optional[bool] = None) -> torch.Tensor:
    """8-connected components of (B, h, w) bool maps.

    Returns (B, h*w) int64: each foreground patch holds the raster index of its component's first
    patch (the component's root), background holds ``h*w``.

    Every patch starts as its own tree, rooted at its first patch. A round hooks each root onto the
    smallest root next to its tree, if smaller, then flattens the trees by pointer jumping. Each
    tree merges in a round or, when all its neighbours merged with smaller roots, in the next, so a
    component's trees at least halve every two rounds: ``2 * ceil(log2 n)`` rounds always finish,
    and before round r a chain of hooks is at most ``n / 2**(r // 2)`` long, which sets the number
    of jumps. ``stop_early`` ends as soon as a round changes nothing, which reads a flag on the host
    every round; the default does so on the CPU only, so that a GPU never waits for the host.
    ``fused`` runs the labelling as one Triton kernel instead (:mod:`pretrain.region_kernels`: a
    map per program, its own number of rounds), the default on a GPU where Triton is installed
    for grids of up to ``region_kernels.MAX_PATCHES`` patches.
    """
    if fused is None:
        fused = (foreground.is_cuda and region_kernels.available()
                 and foreground.shape[-2] * foreground.shape[-1] <= region_kernels.MAX_PATCHES)
    if fused:
        return region_kernels.component_roots(foreground)
    b, h, w = foreground.shape
    n = h * w
    # labels (B, n + 1): background and a last sentinel column point at the sentinel
    labels = torch.arange(n + 1, device=foreground.device).expand(b, -1)
    labels = torch.where(F.pad(foreground.reshape(b, n), (0, 1)), labels, n)
    depth = max(math.ceil(math.log2(n)), 1)
    if stop_early is None:
        stop_early = foreground.device.type == 'cpu'
    for r in range(2 * depth):
        # the smallest label around each patch (labels are floats in max_pool: exact below 2**24)
        grid = (-labels[:, :n]).float().view(b, 1, h, w)
        grid = F.max_pool2d(F.max_pool2d(grid, (1, 3), 1, (0, 1)), (3, 1), 1, (1, 0))
        around = (-grid).view(b, n).long()
        # labels are roots: each root takes the smallest label around its tree; background patches
        # hook the sentinel, which is put back
        parent = labels.scatter_reduce(1, labels[:, :n], around, reduce='amin')
        parent[:, n] = n
        for _ in range(max(depth - r // 2, 1)):
            parent = parent.gather(1, parent)
        if stop_early and torch.equal(parent, labels):
            break
        labels = parent
    return labels[:, :n]


def check_min_area(min_area: float) -> None:
    """Refuse a ``min_area`` outside [0, 1). It is the fraction of the h x w grid a component must
    cover to be a region: the saliency is min-max normalised, so its lowest patch is never
    foreground and no component covers the whole grid; from 1 on (and for NaN) nothing would ever
    be selected, silently, and below 0 is no fraction."""
    if isinstance(min_area, bool) or not isinstance(min_area, numbers.Real) or \
            not 0 <= min_area < 1:
        raise ValueError(f'min_area must be a number in [0, 1) (the fraction of the patch grid a '
                         f'region must cover at least; 0.15 in the paper), got {min_area!r}')


def select_regions(saliency: torch.Tensor, num_regions: int = 5,
                   min_area: float = 0.15) -> torch.Tensor:
    """Ranked salient regions of each map.

    On CUDA the selection, some sixty small kernels and no host read, is captured once per shape
    as a CUDA graph and replayed: launched one by one it takes longer to launch than to run.

    Args:
        saliency: (B, h, w) float saliency, min-max normalised to [0, 1) per image.
        num_regions: N; R1..R(N-1) are the ranked components, RN the rest.
        min_area: components with fewer than ``min_area * h * w`` patches are dropped.

    Returns:
        (B, num_regions, h*w) bool masks, disjoint and covering the grid; missing regions are empty.
    """
    check_min_area(min_area)  # a comparison on the host: nothing waits for the device
    if saliency.is_cuda and not torch.cuda.is_current_stream_capturing():
        return _replay_graph(saliency, num_regions, min_area)
    return select_regions_eager(saliency, num_regions, min_area)


_GRAPHS: Dict[tuple, Tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}


def _replay_graph(saliency: torch.Tensor, num_regions: int, min_area: float) -> torch.Tensor:
    key = (tuple(saliency.shape), saliency.dtype, saliency.device, num_regions, min_area)
    if key not in _GRAPHS:  # capturing waits for the device, once per shape
        static = saliency.clone()
        side = torch.cuda.Stream(saliency.device)
        side.wait_stream(torch.cuda.current_stream(saliency.device))
        with torch.cuda.stream(side):  # a first run outside the capture sets up lazy state
            select_regions_eager(static, num_regions, min_area)
        torch.cuda.current_stream(saliency.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = select_regions_eager(static, num_regions, min_area)
        _GRAPHS[key] = graph, static, out
    graph, static, out = _GRAPHS[key]
    static.copy_(saliency)
    graph.replay()
    return out.clone()


def select_regions_eager(saliency: torch.Tensor, num_regions: int,
                         min_area: float) -> torch.Tensor:
    """:func:`select_regions` launched kernel by kernel, never through a CUDA graph (what the graph
    captures)."""
    b, h, w = saliency.shape
    n = h * w
    foreground = otsu_foreground(saliency)
    roots = label_components(foreground)

    fg = foreground.view(b, n).double()
    area = torch.zeros(b, n + 1, dtype=torch.float64, device=saliency.device)
    area.scatter_add_(1, roots, fg)
    total = torch.zeros_like(area).scatter_add_(1, roots, saliency.reshape(b, n).double() * fg)
    area, total = area[:, :n], total[:, :n]
    eligible = area >= min_area * n
    # Stable sort by descending mean saliency: equal scores keep raster order of their roots.
    key = torch.where(eligible, -(total / area.clamp(min=1)), torch.inf)
    order = torch.sort(key, dim=1, stable=True).indices[:, :num_regions - 1]
    chosen = eligible.gather(1, order)
    regions = (roots[:, None, :] == order[:, :, None]) & chosen[:, :, None]
    rest = ~regions.any(1, keepdim=True)
    return torch.cat([regions, rest], dim=1)
