"""Scenes of non-overlapping coloured shapes on a textured background, with exact masks."""
import colorsys
from typing import List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

__all__ = ['SHAPES', 'class_scene', 'render_scene']

SHAPES = ('square', 'disc', 'triangle')
_GOLDEN = 0.6180339887  # hue step: consecutive tints stay far apart on the colour wheel
_COLOURS = np.array([[220, 60, 50], [60, 170, 80], [50, 90, 220]], dtype=np.float64)


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> List[float]:
    corners = 4 if kind == 'square' else 3
    t = angle + np.arange(corners) * 2 * np.pi / corners
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).ravel().round(2).tolist()


def _shape(rng: np.random.Generator, kind: str, circle: Tuple[float, float, float],
           h: int, w: int) -> Tuple[np.ndarray, object]:
    """Rasterised mask (h, w) and its COCO segmentation: RLE for discs, a polygon otherwise."""
    cx, cy, r = circle
    if kind == 'disc':
        ys, xs = np.mgrid[:h, :w]
        mask = ((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= r * r).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(mask))
        return mask, {'size': rle['size'], 'counts': rle['counts'].decode('ascii')}
    poly = _polygon(kind, cx, cy, r, rng.uniform(0, 2 * np.pi))
    mask = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], h, w)))
    return mask, [poly]


def _place(rng: np.random.Generator, h: int, w: int,
           count: int) -> List[Tuple[float, float, float]]:
    """Centres and radii of up to ``count`` circles that do not overlap."""
    placed: List[Tuple[float, float, float]] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        r = rng.uniform(0.08, 0.2) * min(h, w)
        cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
        if all((cx - x) ** 2 + (cy - y) ** 2 > (r + q + 2) ** 2 for x, y, q in placed):
            placed.append((cx, cy, r))
    return placed


def render_scene(rng: np.random.Generator, h: int, w: int, max_shapes: int = 4,
                 labels: Optional[Sequence[int]] = None, random_colours: bool = False
                 ) -> Tuple[np.ndarray, List[Tuple[int, np.ndarray, object]]]:
    """An (h, w, 3) uint8 image and its shapes as ``(label, mask, segmentation)``.

    ``labels`` restricts which shapes (indices into :data:`SHAPES`) may appear. Each kind of shape
    has its own colour unless ``random_colours``: then any shape takes any of the colours, and only
    its form tells its kind.
    """
    labels = range(len(SHAPES)) if labels is None else labels
    ys, xs = np.mgrid[:h, :w] / max(h, w)
    base = rng.uniform(90, 160, size=3)
    pixels = base + 40 * np.stack([xs, ys, xs * ys], -1) + rng.normal(0, 6, (h, w, 3))
    shapes = []
    for circle in _place(rng, h, w, int(rng.integers(1, max_shapes + 1))):
        label = int(rng.choice(labels))
        mask, segmentation = _shape(rng, SHAPES[label], circle, h, w)
        if mask.sum() == 0:
            continue
        hue = int(rng.integers(len(_COLOURS))) if random_colours else label
        colour = _COLOURS[hue] + rng.normal(0, 12, 3)
        pixels[mask.astype(bool)] = colour + rng.normal(0, 4, (int(mask.sum()), 3))
        shapes.append((label, mask, segmentation))
    return pixels.clip(0, 255).astype(np.uint8), shapes


def class_scene(rng: np.random.Generator, label: int, height: int, width: int
                ) -> Tuple[np.ndarray, np.ndarray]:
    """An (height, width, 3) uint8 image of class ``label`` and the (height, width) bool mask of
    its shapes: shapes of kind ``label % 3`` on a background tinted by ``label // 3``."""
    pixels, shapes = render_scene(rng, height, width, labels=[label % len(SHAPES)])
    shown = np.zeros((height, width), dtype=bool)
    for _, mask, _ in shapes:
        shown |= mask.astype(bool)
    hue = (label // len(SHAPES)) * _GOLDEN % 1.0
    tint = np.array(colorsys.hsv_to_rgb(hue, 0.7, 230.0))
    pixels[~shown] = (0.45 * pixels[~shown] + 0.55 * tint).astype(np.uint8)
    return pixels, shown
