"""DSeq-JEPA region selection (SPEC section 3, point 3), batched in torch on the saliency's device.

Per image: quantise the normalised saliency to ``floor(255 * s)``, threshold it with Otsu's method on
the 256-bin histogram (foreground strictly above the threshold), label the 8-connected foreground
components, drop those smaller than ``min_area * h * w`` patches, rank the rest by mean saliency
(ties: the component whose first pixel comes first in raster order ranks first) and keep the top
``num_regions - 1``; the last region is every other patch.

The result equals OpenCV applied image by image (``cv2.threshold`` with ``THRESH_OTSU`` and
``cv2.connectedComponents`` with connectivity 8): Otsu's between-class variances are accumulated bin
by bin in float64 in the same order as OpenCV, because mathematically tied thresholds are decided by
that rounding. (x86 builds of OpenCV route Otsu through Intel IPP by default, which computes in
another precision and disagrees with OpenCV's own code on exact ties, e.g. 58/80/58 patches at levels
0/127/254: OpenCV's code returns 0, IPP 127. The reference here is OpenCV's own code, the same on
every machine: ``cv2.ipp.setUseIPP(False)``.)
"""
import torch
import torch.nn.functional as F

__all__ = ['select_regions', 'quantise', 'otsu_threshold', 'label_components']

_FLT_EPSILON = 1.1920928955078125e-07  # FLT_EPSILON, OpenCV's guard on the class weights


def quantise(saliency: torch.Tensor) -> torch.Tensor:
    """(B, ...) normalised saliency -> int64 levels ``floor(255 * s)`` clipped to [0, 255]."""
    return torch.floor(saliency * 255).clamp_(0, 255).long()


def otsu_threshold(levels: torch.Tensor) -> torch.Tensor:
    """Otsu threshold (B,) of each row of ``levels`` (B, N), as OpenCV computes it for 8-bit images.

    OpenCV scans the 256 bins in float64 updating q1 (class weight) and mu1 (class mean) as it goes
    and keeps the first bin of largest between-class variance. The two running values are computed
    with the same operations in the same order here (two short loops over bins, each over the whole
    batch); everything else is evaluated for all bins at once.
    """
    b, n = levels.shape
    hist = torch.zeros(b, 256, dtype=torch.float64, device=levels.device)
    hist.scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float64))
    scale = 1.0 / n
    bins = torch.arange(256, dtype=torch.float64, device=levels.device)
    mu = (hist * bins).sum(1) * scale  # a sum of integers: exact in any order
    p = (hist * scale).t().contiguous()  # (256, B)
    ip = bins[:, None] * p
    q1 = torch.empty_like(p)
    running = torch.zeros(b, dtype=torch.float64, device=levels.device)
    for i in range(256):
        running = running + p[i]
        q1[i] = running
    q2 = 1.0 - q1
    valid = (torch.minimum(q1, q2) >= _FLT_EPSILON) & (torch.maximum(q1, q2) <= 1.0 - _FLT_EPSILON)
    q1_before = torch.cat([torch.zeros_like(q1[:1]), q1[:-1]])
    mu1 = torch.empty_like(p)
    running = torch.zeros(b, dtype=torch.float64, device=levels.device)
    for i in range(256):
        # OpenCV multiplies mu1 by the previous weight on every bin, divides only on valid ones
        scaled = running * q1_before[i]
        running = torch.where(valid[i], (scaled + ip[i]) / q1[i], scaled)
        mu1[i] = running
    mu2 = (mu - q1 * mu1) / q2
    sigma = torch.where(valid, q1 * q2 * (mu1 - mu2) * (mu1 - mu2), -torch.inf)
    best, threshold = sigma.max(0)  # the first bin of the largest variance, as OpenCV's strict >
    return torch.where(best > 0, threshold, 0)


def label_components(foreground: torch.Tensor) -> torch.Tensor:
    """8-connected components of (B, h, w) bool maps.

    Returns (B, h*w) int64: each foreground patch holds the raster index of its component's first
    patch (the component's root), background holds ``h*w``.
    """
    b, h, w = foreground.shape
    n = h * w
    fg = foreground.reshape(b, n)
    background = float(n)  # labels stay exact in float32 (grids up to 2**24 patches)
    labels = torch.where(fg, torch.arange(n, device=fg.device, dtype=torch.float32), background)

    def follow(x: torch.Tensor) -> torch.Tensor:  # each patch takes its label's label
        return torch.where(fg, x.gather(1, x.long().clamp(max=n - 1)), background)

    while True:
        # The smallest label around each patch (a separable 3x3 minimum) is hooked onto the patch's
        # root, then labels jump to their roots' labels. Labels only decrease and never leave their
        # component, so this ends with every patch at its component's first patch, in a few rounds
        # (roots are hooked, not just patches).
        grid = labels.view(b, 1, h, w)
        around = -F.max_pool2d(-grid, (1, 3), stride=1, padding=(0, 1))
        around = -F.max_pool2d(-around, (3, 1), stride=1, padding=(1, 0))
        around = torch.where(fg, around.view(b, n), background)
        hooked = labels.scatter_reduce(1, labels.long().clamp(max=n - 1), around, reduce='amin')
        new = follow(follow(torch.where(fg, torch.minimum(hooked, around), background)))
        if torch.equal(new, labels):
            return labels.long()
        labels = new


def select_regions(saliency: torch.Tensor, num_regions: int = 5,
                   min_area: float = 0.15) -> torch.Tensor:
    """Ranked salient regions of each map.

    Args:
        saliency: (B, h, w) float saliency, min-max normalised to [0, 1) per image.
        num_regions: N; R1..R(N-1) are the ranked components, RN the rest.
        min_area: components with fewer than ``min_area * h * w`` patches are dropped.

    Returns:
        (B, num_regions, h*w) bool masks, disjoint and covering the grid; missing regions are empty.
    """
    b, h, w = saliency.shape
    n = h * w
    levels = quantise(saliency).view(b, n)
    foreground = levels > otsu_threshold(levels)[:, None]
    roots = label_components(foreground.view(b, h, w))

    fg = foreground.double()
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
