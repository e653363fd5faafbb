"""A small ADE20K-format semantic segmentation dataset, deterministic by seed.

Writes the standard ADEChallengeData2016 layout::

    ROOT/images/training/ADE_train_00000001.jpg ...
    ROOT/images/validation/ADE_val_00000001.jpg ...
    ROOT/annotations/training/ADE_train_00000001.png ...    (uint8 class ids, 0 = other/ignore)
    ROOT/annotations/validation/ADE_val_00000001.png ...

Each scene is a wall above a floor with a few non-overlapping shapes (from :mod:`synthetic.shapes`)
standing in for ADE20K objects, framed by a thin dark border that is left unlabeled (id 0, which
``reduce_zero_label`` turns into the ignore index). Every label is written from the same mask that
painted its pixels, so annotations match the image exactly.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from PIL import Image

from .shapes import SHAPES, render_scene

__all__ = ['ADE_IDS', 'make_ade20k']

#: ADE20K ids (1-based, as stored in the PNGs) of what the scenes show; 0 is unlabeled.
ADE_IDS: Dict[str, int] = {'wall': 1, 'floor': 4, 'square': 42, 'disc': 120, 'triangle': 150}

_SPLITS = (('training', 'train'), ('validation', 'val'))


def _scene(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """An (h, w, 3) uint8 image and its (h, w) uint8 ADE20K label map."""
    h, w = (int(v) for v in rng.integers(160, 257, size=2))
    pixels, shapes = render_scene(rng, h, w)  # shapes on a wall-like textured background
    label = np.full((h, w), ADE_IDS['wall'], dtype=np.uint8)

    # The floor: a striped, brownish band below a random horizon, behind the shapes.
    horizon = int(h * rng.uniform(0.55, 0.8))
    rows = np.arange(h - horizon)[:, None, None]
    floor = rng.uniform([120, 80, 40], [170, 115, 70]) + 18 * np.sin(rows * rng.uniform(0.4, 0.9))
    floor = floor + rng.normal(0, 6, (h - horizon, w, 3))
    behind = np.ones((h, w), dtype=bool)
    for kind, mask, _ in shapes:
        behind &= ~mask.astype(bool)
        label[mask.astype(bool)] = ADE_IDS[SHAPES[kind]]
    floor_mask = np.zeros((h, w), dtype=bool)
    floor_mask[horizon:] = True
    floor_mask &= behind
    pixels[floor_mask] = floor.clip(0, 255).astype(np.uint8)[floor_mask[horizon:]]
    label[floor_mask] = ADE_IDS['floor']

    # A thin dark frame over everything, unlabeled.
    frame = np.zeros((h, w), dtype=bool)
    width = int(rng.integers(2, 6))
    frame[:width], frame[-width:], frame[:, :width], frame[:, -width:] = True, True, True, True
    pixels[frame] = rng.integers(0, 30, (int(frame.sum()), 3), dtype=np.uint8)
    label[frame] = 0
    return pixels, label


def make_ade20k(root: str, num_train: int = 16, num_val: int = 8, seed: int = 0) -> None:
    """Write ``num_train`` + ``num_val`` images with their label maps under ``root``."""
    rng = np.random.default_rng(seed)
    for (split, short), count in zip(_SPLITS, (num_train, num_val)):
        img_dir, ann_dir = osp.join(root, 'images', split), osp.join(root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for index in range(1, count + 1):
            pixels, label = _scene(rng)
            name = f'ADE_{short}_{index:08d}'
            Image.fromarray(pixels).save(osp.join(img_dir, name + '.jpg'), quality=95)
            Image.fromarray(label).save(osp.join(ann_dir, name + '.png'))
