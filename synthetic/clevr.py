"""A small CLEVR_v1.0 tree: rendered scenes of 3 to 10 objects with scene files that match them.

Writes the standard layout::

    ROOT/CLEVR_v1.0/images/{train,val}/CLEVR_{split}_000000.png ...
    ROOT/CLEVR_v1.0/scenes/CLEVR_{train,val}_scenes.json

Objects stand on a ground plane seen from above and in front: an object at depth d is drawn
``RADIUS / d`` pixels wide and lower in the image the closer it is, so both the object count and the
closest object's depth (``pixel_coords = [x, y, depth]``, as in CLEVR) can be read from the pixels.
The closest depth of each scene is drawn uniformly over the Dist bins' range, so every bin occurs.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

__all__ = ['make_clevr']

WIDTH, HEIGHT = 192, 128
NEAR, FAR = 7.0, 12.0  # depths drawn at the bottom and near the horizon of the image
RADIUS = 90.0  # pixels at depth 1
_COLOURS = {'gray': (87, 87, 87), 'red': (173, 35, 35), 'blue': (42, 75, 215),
            'green': (29, 105, 20), 'brown': (129, 74, 25), 'purple': (129, 38, 192),
            'cyan': (41, 208, 208), 'yellow': (255, 238, 51)}
_SHAPES = ('sphere', 'cube', 'cylinder')


def _row(depth: float) -> float:
    """Image row of an object's centre: the bottom for NEAR, 35% of the height for FAR."""
    return HEIGHT * (0.92 - 0.57 * (depth - NEAR) / (FAR - NEAR))


def _objects(rng: np.random.Generator) -> List[Dict]:
    """3 to 10 non-overlapping objects, the closest at a depth spread over the Dist bins."""
    count = int(rng.integers(3, 11))
    closest = rng.uniform(7.4, 10.6)
    depths = [closest] + list(rng.uniform(closest, FAR, count - 1))
    placed: List[Tuple[float, float, float]] = []
    objects = []
    for depth in depths:
        r = RADIUS / depth
        for _ in range(200):
            x, y = rng.uniform(r + 1, WIDTH - r - 1), _row(depth) + rng.normal(0, 2)
            if all((x - px) ** 2 + (y - py) ** 2 > (r + pr + 1) ** 2 for px, py, pr in placed):
                break
        else:  # no room left at this depth: move the object further back
            continue
        placed.append((x, y, r))
        colour = str(rng.choice(list(_COLOURS)))
        objects.append(dict(
            shape=str(rng.choice(_SHAPES)), color=colour, size='large' if r > 8 else 'small',
            material=str(rng.choice(['rubber', 'metal'])), rotation=float(rng.uniform(0, 360)),
            pixel_coords=[int(round(x)), int(round(y)), round(float(depth), 4)],
            **{'3d_coords': [round(float(v), 4) for v in rng.uniform(-3, 3, 3)]}))
    if len(objects) < 3:
        return _objects(rng)
    return objects


def _render(rng: np.random.Generator, objects: List[Dict]) -> np.ndarray:
    ys, xs = np.mgrid[:HEIGHT, :WIDTH].astype(np.float64)
    floor = 120 + 40 * ys / HEIGHT
    pixels = np.repeat(floor[..., None], 3, axis=2) + rng.normal(0, 3, (HEIGHT, WIDTH, 3))
    for obj in sorted(objects, key=lambda o: -o['pixel_coords'][2]):  # far to near
        x, y, depth = obj['pixel_coords']
        r = RADIUS / depth
        if obj['shape'] == 'cube':
            inside = (np.abs(xs - x) <= r * 0.85) & (np.abs(ys - y) <= r * 0.85)
        else:
            inside = (xs - x) ** 2 + (ys - y) ** 2 <= r * r
        shade = 1.15 - 0.35 * np.clip(((xs - x) + (ys - y)) / (2 * r) + 0.5, 0, 1)
        colour = np.array(_COLOURS[obj['color']], dtype=np.float64)
        pixels[inside] = (colour * shade[inside, None])
    return pixels.clip(0, 255).astype(np.uint8)


def make_clevr(root: str, num_train: int = 16, num_val: int = 8, seed: int = 0) -> None:
    """Write ``num_train`` + ``num_val`` scenes under ``root/CLEVR_v1.0``."""
    rng = np.random.default_rng(seed)
    base = osp.join(root, 'CLEVR_v1.0')
    os.makedirs(osp.join(base, 'scenes'), exist_ok=True)
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(base, 'images', split), exist_ok=True)
        scenes = []
        for index in range(count):
            objects = _objects(rng)
            name = f'CLEVR_{split}_{index:06d}.png'
            # zlib's fastest level: the same pixels, written in half the time
            Image.fromarray(_render(rng, objects)).save(osp.join(base, 'images', split, name),
                                                        compress_level=1)
            scenes.append(dict(image_index=index, image_filename=name, split=split,
                               objects=objects, relationships={}, directions={}))
        doc = dict(info=dict(split=split, version='1.0', license='synthetic', seed=seed),
                   scenes=scenes)
        with open(osp.join(base, 'scenes', f'CLEVR_{split}_scenes.json'), 'w') as f:
            json.dump(doc, f)
