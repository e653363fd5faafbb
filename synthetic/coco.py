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

from .shapes import SHAPES, render_scene

__all__ = ['COCO_CLASSES', 'make_coco']

COCO_CLASSES = SHAPES


def _image(rng: np.random.Generator, image_id: int, split: str, root: str,
           ann_start: int) -> Tuple[Dict, List[Dict]]:
    h, w = int(rng.integers(192, 320)), int(rng.integers(192, 320))
    pixels, shapes = render_scene(rng, h, w)
    anns = []
    for label, mask, segmentation in shapes:
        rle = mask_utils.encode(np.asfortranarray(mask))
        anns.append(dict(id=ann_start + len(anns), image_id=image_id, category_id=label + 1,
                         segmentation=segmentation, area=float(mask_utils.area(rle)),
                         bbox=[round(v, 2) for v in mask_utils.toBbox(rle).tolist()], iscrowd=0))
    file_name = f'{image_id:012d}.jpg'
    Image.fromarray(pixels).save(
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
