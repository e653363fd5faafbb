"""A small CUB-200-2011 tree: the official text files and class folders.

Writes::

    ROOT/CUB_200_2011/images.txt              <image_id> <class folder>/<image>
    ROOT/CUB_200_2011/image_class_labels.txt  <image_id> <class_id 1..C>
    ROOT/CUB_200_2011/train_test_split.txt    <image_id> <1 train | 0 test>
    ROOT/CUB_200_2011/classes.txt             <class_id> <NNN.Class_name>
    ROOT/CUB_200_2011/images/001.Black_Albatross/Black_Albatross_0001_123456.jpg ...

Image ids are given in a shuffled order, so train and test images interleave in every file (a
reader that assumes train-first or class-sorted files fails). Images are :func:`~synthetic.shapes.
class_scene`'s.
"""
import os
import os.path as osp
from typing import List

import numpy as np
from PIL import Image

from .shapes import class_scene

__all__ = ['make_cub']

_COLOURS = ('Black', 'Red', 'Blue', 'Grey', 'Yellow', 'Green', 'Brown', 'White')
_BIRDS = ('Albatross', 'Sparrow', 'Warbler', 'Tern', 'Wren', 'Gull', 'Finch', 'Jay')


def _class_names(num_classes: int) -> List[str]:
    """``NNN.Colour_Bird`` names as in classes.txt, distinct for every class."""
    names = []
    for k in range(num_classes):
        name = f'{_COLOURS[k % len(_COLOURS)]}_{_BIRDS[k // len(_COLOURS) % len(_BIRDS)]}'
        if k >= len(_COLOURS) * len(_BIRDS):
            name += f'_{k}'
        names.append(f'{k + 1:03d}.{name}')
    return names


def make_cub(root: str, num_train: int = 24, num_val: int = 12, seed: int = 0,
             num_classes: int = 6) -> None:
    """Write ``num_train`` train and ``num_val`` test images over ``num_classes`` classes (image
    ``i`` of a split has class ``i % num_classes``) under ``root/CUB_200_2011``."""
    rng = np.random.default_rng(seed)
    base = osp.join(root, 'CUB_200_2011')
    classes = _class_names(num_classes)
    os.makedirs(osp.join(base, 'images'), exist_ok=True)
    pool = [(i % num_classes, 1) for i in range(num_train)] + \
        [(i % num_classes, 0) for i in range(num_val)]
    order = rng.permutation(len(pool))  # image id j + 1 is pool[order[j]]
    serial = [0] * num_classes
    rows = []
    for image_id, index in enumerate(order, 1):
        label, is_train = pool[index]
        serial[label] += 1
        folder = classes[label]
        name = f'{folder.split(".", 1)[1]}_{serial[label]:04d}_{int(rng.integers(1, 800000))}.jpg'
        os.makedirs(osp.join(base, 'images', folder), exist_ok=True)
        height, width = int(rng.integers(64, 128)), int(rng.integers(64, 128))
        Image.fromarray(class_scene(rng, label, height, width)[0]).save(
            osp.join(base, 'images', folder, name), quality=90)
        rows.append((image_id, f'{folder}/{name}', label + 1, is_train))
    tables = {'images.txt': [f'{i} {path}' for i, path, _, _ in rows],
              'image_class_labels.txt': [f'{i} {label}' for i, _, label, _ in rows],
              'train_test_split.txt': [f'{i} {is_train}' for i, _, _, is_train in rows],
              'classes.txt': [f'{k + 1} {name}' for k, name in enumerate(classes)]}
    for name, lines in tables.items():
        with open(osp.join(base, name), 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
