"""A small COCO-format instance segmentation dataset, deterministic by seed.

Writes the standard layout::

    ROOT/annotations/instances_train2017.json
    ROOT/annotations/instances_val2017.json
    ROOT/train2017/000000000001.jpg ...
    ROOT/val2017/...

Each image holds a few non-overlapping shapes (squares, discs, triangles) on a textured background.
Squares and triangles are annotated with polygons, discs with RLE; boxes and areas are computed from
the same rasterised masks that were painted, so the annotation matches the pixels exactly.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

__all__ = ['COCO_CLASSES', 'make_coco']

COCO_CLASSES = ('square', 'disc', 'triangle')
_COLOURS = np.array([[220, 60, 50], [60, 170, 80], [50, 90, 220]], dtype=np.float64)


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> List[float]:
    corners = 4 if kind == 'square' else 3
    t = angle + np.arange(corners) * 2 * np.pi / corners
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).ravel().round(2).tolist()


def _instance(rng: np.random.Generator, kind: str, box: Tuple[float, float, float],
              h: int, w: int) -> Tuple[np.ndarray, object]:
    """Rasterised mask (h, w) and its COCO segmentation (polygon list or RLE)."""
    cx, cy, r = box
    if kind == 'disc':
        ys, xs = np.mgrid[:h, :w]
        mask = ((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= r * r).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(mask))
        return mask, {'size': rle['size'], 'counts': rle['counts'].decode('ascii')}
    poly = _polygon(kind, cx, cy, r, rng.uniform(0, 2 * np.pi))
    mask = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], h, w)))
    return mask, [poly]


def _place(rng: np.random.Generator, h: int, w: int, count: int) -> List[Tuple[float, float, float]]:
    """Centres and radii of up to ``count`` discs' worth of space that do not overlap."""
    placed: List[Tuple[float, float, float]] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        r = rng.uniform(0.08, 0.2) * min(h, w)
        cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
        if all((cx - x) ** 2 + (cy - y) ** 2 > (r + q + 2) ** 2 for x, y, q in placed):
            placed.append((cx, cy, r))
    return placed


def _image(rng: np.random.Generator, image_id: int, split: str, root: str,
           ann_start: int) -> Tuple[Dict, List[Dict]]:
    h, w = int(rng.integers(192, 320)), int(rng.integers(192, 320))
    ys, xs = np.mgrid[:h, :w] / max(h, w)
    base = rng.uniform(90, 160, size=3)
    pixels = base + 40 * np.stack([xs, ys, xs * ys], -1) + rng.normal(0, 6, (h, w, 3))
    anns = []
    for cx, cy, r in _place(rng, h, w, int(rng.integers(1, 5))):
        label = int(rng.integers(len(COCO_CLASSES)))
        mask, segmentation = _instance(rng, COCO_CLASSES[label], (cx, cy, r), h, w)
        if mask.sum() == 0:
            continue
        colour = _COLOURS[label] + rng.normal(0, 12, 3)
        pixels[mask.astype(bool)] = colour + rng.normal(0, 4, (int(mask.sum()), 3))
        rle = mask_utils.encode(np.asfortranarray(mask))
        anns.append(dict(id=ann_start + len(anns), image_id=image_id, category_id=label + 1,
                         segmentation=segmentation, area=float(mask_utils.area(rle)),
                         bbox=[round(v, 2) for v in mask_utils.toBbox(rle).tolist()], iscrowd=0))
    file_name = f'{image_id:012d}.jpg'
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(
        osp.join(root, f'{split}2017', file_name), quality=95)
    return dict(id=image_id, file_name=file_name, height=h, width=w), anns


def make_coco(root: str, num_train: int = 16, num_val: int = 8, seed: int = 0) -> None:
    """Write ``num_train`` + ``num_val`` images with instance annotations under ``root``."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(COCO_CLASSES)]
    image_id, ann_id = 1, 1
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, f'{split}2017'), exist_ok=True)
        images, annotations = [], []
        for _ in range(count):
            info, anns = _image(rng, image_id, split, root, ann_id)
            images.append(info)
            annotations += anns
            image_id, ann_id = image_id + 1, ann_id + len(anns)
        doc = dict(info=dict(description=f'synthetic shapes, seed {seed}'), licenses=[],
                   images=images, annotations=annotations, categories=categories)
        with open(osp.join(root, 'annotations', f'instances_{split}2017.json'), 'w') as f:
            json.dump(doc, f)
