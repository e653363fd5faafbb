"""ImageNet-style image folders of synthetic scenes, deterministic by seed.

``make_imagenet`` writes ``ROOT/{train,val}/<class>/<image>.JPEG`` (class k shows shapes of kind k
only, in the colour of their kind or, with ``random_colours``, in any colour); ``make_images``
writes a flat folder ``ROOT/train/<image>.jpg``, the layout of an unlabeled corpus.
"""
import os
import os.path as osp

import numpy as np
from PIL import Image

from .shapes import SHAPES, render_scene

__all__ = ['make_imagenet', 'make_images']


def _write(rng: np.random.Generator, path: str, labels=None, random_colours: bool = False) -> None:
    h, w = int(rng.integers(96, 160)), int(rng.integers(96, 160))
    pixels, _ = render_scene(rng, h, w, labels=labels, random_colours=random_colours)
    Image.fromarray(pixels).save(path, quality=95)


def make_imagenet(root: str, num_train: int = 48, num_val: int = 12, seed: int = 0,
                  random_colours: bool = False) -> None:
    """``num_train`` / ``num_val`` images spread over one class per shape kind; with
    ``random_colours`` a class is told by the form of its shapes alone."""
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for i in range(count):
            label = i % len(SHAPES)
            folder = osp.join(root, split, f'n{label:08d}')
            os.makedirs(folder, exist_ok=True)
            _write(rng, osp.join(folder, f'{split}_{i:06d}.JPEG'), labels=[label],
                   random_colours=random_colours)


def make_images(root: str, num_train: int = 48, num_val: int = 0, seed: int = 0) -> None:
    """A flat folder of ``num_train`` unlabeled images under ``root/train``."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'train'), exist_ok=True)
    for i in range(num_train):
        _write(rng, osp.join(root, 'train', f'{i:06d}.jpg'))
