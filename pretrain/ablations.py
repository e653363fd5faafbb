"""DSeq-JEPA's ablation switches on the regions (SPEC section 3, "Ablations"), one function each.

Each function takes or makes regions (B, N, P) bool: R1..R(N-1) in sequence order, missing ones
empty, the last one the background (every other patch). :class:`~pretrain.dseq.DSeqJEPA` applies
them in this order, after the regions are found and before the sequence:

1. :func:`uniform_regions` (``regions='uniform'``) replaces the saliency regions by random blocks;
2. :func:`per_region_curriculum` (``curriculum='per_region'``) replaces each region by a random
   rectangle with probability 1 - lambda;
3. :func:`order_regions` (``order``) reorders R1..R(N-1); the background stays last;
4. :func:`top_regions` (``top_k``) keeps R1..Rk only.

Every random draw comes from a generator seeded by ``(seed, step, rank, stream)``, as the masks' are
(:mod:`pretrain.seeds`): a pure function of the run's seed, the step and the rank, so a resumed run
repeats it; the rank keeps the ranks' images from sharing one pattern, and a draw shared by the
whole batch (the block size of :func:`uniform_regions`) leaves the rank out, so every rank agrees.
"""
from typing import Optional, Sequence, Tuple

import torch

from .masks import MultiBlockMaskSampler
from .seeds import ORDER_STREAM, REGION_CURRICULUM_STREAM, UNIFORM_STREAM, seeded_generator

__all__ = ['REGION_SOURCES', 'PREDICTIONS', 'ORDERS', 'SALIENCIES', 'CURRICULA', 'check_choice',
           'uniform_regions', 'per_region_curriculum', 'order_regions', 'top_regions',
           'disjoint_regions']

REGION_SOURCES = ('saliency', 'uniform')
PREDICTIONS = ('sequential', 'flat')
ORDERS = ('rank', 'random', 'spatial', 'inverse')
SALIENCIES = ('cls', 'gradcam')
CURRICULA = ('per_step', 'per_region', 'off')


def check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    """Raise a ValueError naming the allowed values unless ``value`` is one of them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f'{name} must be one of {list(allowed)}, got {value!r}')


def disjoint_regions(candidates: torch.Tensor) -> torch.Tensor:
    """Candidate regions (B, M, P), possibly overlapping -> (B, M + 1, P) disjoint regions covering
    the grid: a patch claimed by several candidates goes to the first of them (R_k = candidate k
    minus candidates 1..k-1), and the last region is every unclaimed patch (the background)."""
    taken = candidates.cumsum(1) > 0  # claimed by candidates 1..k
    earlier = torch.cat([torch.zeros_like(taken[:, :1]), taken[:, :-1]], dim=1)
    return torch.cat([candidates & ~earlier, ~taken[:, -1:]], dim=1)


def _overlap(a: Tuple[int, int], b: Tuple[int, int], h: int, w: int) -> bool:
    """Whether two h x w blocks with top-left corners ``a`` and ``b`` share a patch."""
    return abs(a[0] - b[0]) < h and abs(a[1] - b[1]) < w


def uniform_regions(sampler: MultiBlockMaskSampler, batch_size: int, num_regions: int, seed: int,
                    step: int, rank: int) -> torch.Tensor:
    """Random blocks in place of the saliency regions (``regions='uniform'``), on the CPU.

    R1..R(N-1) are blocks of the multi-block sampler's target size: one size (h, w) per step,
    :meth:`~pretrain.masks.MultiBlockMaskSampler.block_size` on ``sampler.target_scale`` and
    ``sampler.target_aspect``, drawn from ``(seed, step)`` so every rank agrees; per image, each
    block takes the first of ``sampler.max_tries`` random corners (drawn from
    ``(seed, step, rank)``, every corner on the grid possible) where it overlaps no earlier block,
    or, when none is free, the last one tried, minus the patches of the earlier blocks
    (:func:`disjoint_regions`), so a late block can be smaller than h x w. RN is every other patch.
    Nothing of the images or the saliency is read. Returns (B, N, P) bool.
    """
    h, w = sampler.block_size(seeded_generator(seed, step, UNIFORM_STREAM), sampler.target_scale,
                              sampler.target_aspect)
    rows, cols = sampler.grid
    m, tries = num_regions - 1, sampler.max_tries
    g = seeded_generator(seed, step, rank, UNIFORM_STREAM)
    tops = torch.randint(0, rows - h + 1, (batch_size, m, tries), generator=g).tolist()
    lefts = torch.randint(0, cols - w + 1, (batch_size, m, tries), generator=g).tolist()
    corners = []
    for b in range(batch_size):
        placed = []
        for k in range(m):
            options = list(zip(tops[b][k], lefts[b][k]))
            free = (c for c in options if not any(_overlap(c, d, h, w) for d in placed))
            placed.append(next(free, options[-1]))
        corners.append(placed)
    corner = torch.tensor(corners, dtype=torch.long).view(batch_size, m, 2)
    r = torch.arange(rows)[:, None]
    c = torch.arange(cols)[None, :]
    top, left = corner[..., 0, None, None], corner[..., 1, None, None]
    blocks = (r >= top) & (r < top + h) & (c >= left) & (c < left + w)
    return disjoint_regions(blocks.flatten(2))


def per_region_curriculum(regions: torch.Tensor, keep_prob: float, grid: Tuple[int, int],
                          seed: int, step: int, rank: int,
                          aspect: Tuple[float, float] = (0.75, 1.5)
                          ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The paper's Algorithm 1 curriculum (``curriculum='per_region'``): each found region of each
    image is kept with probability ``keep_prob`` (lambda = t / T), otherwise replaced by a random
    rectangle.

    A rectangle has about the patches of the region it replaces: at an aspect ratio r = h / w drawn
    uniformly in ``aspect`` (the sampler's target aspect range), h = round(sqrt(a * r)) and
    w = round(sqrt(a / r)) for a region of a patches, each clipped to [1, side], at a uniformly
    random position on the grid. Missing (empty) regions stay missing and the background is not
    drawn for. Overlaps go to the region first in the sequence (:func:`disjoint_regions`: a kept
    region can lose patches to an earlier rectangle, a rectangle to an earlier region), and the
    background is recomputed as every patch left. All draws (four uniform numbers per region slot)
    come from ``(seed, step, rank)``, on the CPU, and are used on the regions' device without any
    read back to the host.

    Args:
        regions: (B, N, P) bool, the last one the background.
        keep_prob: lambda, the probability of keeping a region.
        grid: (rows, cols) of the patch grid, rows * cols = P.

    Returns:
        The new regions (B, N, P) and ``replaced`` (B, N - 1) bool, the slots that got a rectangle.
    """
    b, n, p = regions.shape
    rows, cols = grid
    device = regions.device
    found = regions[:, :-1]
    g = seeded_generator(seed, step, rank, REGION_CURRICULUM_STREAM)
    keep_u, aspect_u, top_u, left_u = torch.rand(4, b, n - 1, 1, 1, dtype=torch.float64,
                                                 generator=g).to(device)
    replaced = found.any(-1) & (keep_u[..., 0, 0] >= keep_prob)
    area = found.sum(-1).double()[..., None, None]
    ratio = aspect[0] + aspect_u * (aspect[1] - aspect[0])
    h = torch.sqrt(area * ratio).round().clamp(1, rows)
    w = torch.sqrt(area / ratio).round().clamp(1, cols)
    top = torch.floor(top_u * (rows - h + 1))
    left = torch.floor(left_u * (cols - w + 1))
    r = torch.arange(rows, device=device, dtype=torch.float64)[:, None]
    c = torch.arange(cols, device=device, dtype=torch.float64)[None, :]
    rect = ((r >= top) & (r < top + h) & (c >= left) & (c < left + w)).flatten(2)
    candidates = torch.where(replaced[..., None], rect, found)
    return disjoint_regions(candidates), replaced


def order_regions(regions: torch.Tensor, order: str, seed: int = 0, step: int = 0,
                  rank: int = 0) -> torch.Tensor:
    """R1..R(N-1) of (B, N, P) regions in the sequence order ``order`` (:data:`ORDERS`); the found
    regions come first in that order, missing ones after them, the background stays last:

    * ``'rank'``: as given (descending mean saliency), the regions returned unchanged;
    * ``'inverse'``: the lowest-ranked found region first (the found ones reversed);
    * ``'spatial'``: raster order of each region's first patch (its top row's leftmost patch);
    * ``'random'``: a uniformly random permutation of each image's found regions, from
      ``(seed, step, rank)``.
    """
    check_choice('order', order, ORDERS)
    if order == 'rank':
        return regions
    b, n, p = regions.shape
    found = regions[:, :-1]
    if order == 'inverse':
        key = -torch.arange(n - 1, device=regions.device, dtype=torch.float64).expand(b, -1)
    elif order == 'spatial':
        key = found.to(torch.uint8).argmax(-1).double()  # the first patch in raster order
    else:
        g = seeded_generator(seed, step, rank, ORDER_STREAM)
        key = torch.rand(b, n - 1, dtype=torch.float64, generator=g).to(regions.device)
    key = torch.where(found.any(-1), key, torch.inf)
    perm = torch.argsort(key, dim=1, stable=True)
    return torch.cat([found.gather(1, perm[..., None].expand(-1, -1, p)), regions[:, -1:]], dim=1)


def top_regions(regions: torch.Tensor, top_k: Optional[int]) -> torch.Tensor:
    """``top_k`` ("top-3 only"): R1..Rk of (B, N, P) regions, predicted in sequence (R2 from R1,
    ..., Rk from R1..R(k-1)); R(k+1)..R(N-1) and the background are neither context nor target, so
    the result (B, k, P) does not cover the grid. None keeps all N."""
    return regions if top_k is None else regions[:, :top_k]
