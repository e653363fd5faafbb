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
    """Otsu threshold (B,) of each row of ``levels`` (B, N), as OpenCV computes it for 8-bit images."""
    b, n = levels.shape
    hist = torch.zeros(b, 256, dtype=torch.float64, device=levels.device)
    hist.scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float64))
    scale = 1.0 / n
    bins = torch.arange(256, dtype=torch.float64, device=levels.device)
    mu = (hist * bins).sum(1) * scale  # a sum of integers: exact in any order
    p = hist * scale
    q1 = torch.zeros(b, dtype=torch.float64, device=levels.device)
    mu1 = torch.zeros_like(q1)
    best = torch.zeros_like(q1)
    threshold = torch.zeros(b, dtype=torch.long, device=levels.device)
    for i in range(256):
        p_i = p[:, i]
        mu1 = mu1 * q1
        q1 = q1 + p_i
        q2 = 1.0 - q1
        valid = (torch.minimum(q1, q2) >= _FLT_EPSILON) & (torch.maximum(q1, q2) <= 1.0 - _FLT_EPSILON)
        mu1 = torch.where(valid, (mu1 + i * p_i) / q1, mu1)
        mu2 = (mu - q1 * mu1) / q2
        sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
        better = valid & (sigma > best)
        best = torch.where(better, sigma, best)
        threshold = torch.where(better, torch.full_like(threshold, i), threshold)
    return threshold


def label_components(foreground: torch.Tensor) -> torch.Tensor:
    """8-connected components of (B, h, w) bool maps.

    Returns (B, h*w) int64: each foreground patch holds the raster index of its component's first
    patch (the component's root), background holds ``h*w``.
    """
    b, h, w = foreground.shape
    n = h * w
    fg = foreground.reshape(b, n)
    index = torch.arange(n, device=foreground.device).expand(b, n)
    labels = torch.where(fg, index, n)
    while True:
        # Each patch takes the smallest label around it, then the label of that label (pointer
        # jumping); labels only decrease and stay inside the component, so this ends at its root.
        grid = labels.view(b, 1, h, w).float()
        smallest = -F.max_pool2d(-grid, 3, stride=1, padding=1)
        new = torch.where(fg, torch.minimum(labels, smallest.view(b, n).long()), n)
        new = torch.where(fg, new.gather(1, new.clamp(max=n - 1)), n)
        if torch.equal(new, labels):
            return labels
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
