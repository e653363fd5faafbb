"""A small Stanford Cars tree in the layout torchvision's ``StanfordCars`` reads.

Writes::

    ROOT/stanford_cars/devkit/cars_meta.mat            class_names: 1xC cell of strings
    ROOT/stanford_cars/devkit/cars_train_annos.mat     annotations: 1xN struct (bbox_x1, bbox_y1,
                                                       bbox_x2, bbox_y2, class 1..C, fname)
    ROOT/stanford_cars/devkit/cars_test_annos.mat      the test annotations without class
    ROOT/stanford_cars/cars_test_annos_withlabels.mat  the test annotations with class
    ROOT/stanford_cars/cars_{train,test}/00001.jpg ...

The .mat files are written by ``scipy.io.savemat`` with the variables and fields of the real devkit;
the boxes (1-based, inclusive) enclose the shapes of :func:`~synthetic.shapes.class_scene`'s images.
Each split lists its images in a shuffled class order, as the real files do.
"""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
import scipy.io
from PIL import Image

from .shapes import class_scene

__all__ = ['make_cars']

_MAKES = ('Acura', 'Audi', 'BMW', 'Chevrolet', 'Dodge', 'Ford', 'Honda', 'Toyota')
_BODIES = ('Sedan', 'Coupe', 'SUV', 'Convertible', 'Hatchback', 'Wagon')
_BOX_FIELDS = ('bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2')


def _class_names(num_classes: int) -> List[str]:
    """'<Make> <Model> <Body> <Year>' names, distinct for every class."""
    return [f'{_MAKES[k % len(_MAKES)]} Model{k:03d} {_BODIES[k % len(_BODIES)]} {2007 + k % 6}'
            for k in range(num_classes)]


def _box(shown: np.ndarray) -> Tuple[int, int, int, int]:
    """The 1-based inclusive (x1, y1, x2, y2) box of a mask; the whole image if it is empty."""
    ys, xs = np.nonzero(shown)
    if len(xs) == 0:
        return 1, 1, shown.shape[1], shown.shape[0]
    return int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1


def _annotations(rows: List[tuple], with_class: bool) -> np.ndarray:
    """A 1xN struct array (savemat writes it as a MATLAB struct) of (box..., class, fname) rows."""
    fields = _BOX_FIELDS + (('class',) if with_class else ()) + ('fname',)
    table = np.zeros((1, len(rows)), dtype=[(name, object) for name in fields])
    for i, (box, label, fname) in enumerate(rows):
        values = [np.uint16(v) for v in box] + ([np.uint16(label)] if with_class else []) + [fname]
        table[0, i] = tuple(values)
    return table


def make_cars(root: str, num_train: int = 24, num_val: int = 12, seed: int = 0,
              num_classes: int = 6) -> None:
    """Write ``num_train`` train and ``num_val`` test images over ``num_classes`` classes (each
    class ``i % num_classes`` for image ``i`` of a split, before shuffling) under
    ``root/stanford_cars``."""
    rng = np.random.default_rng(seed)
    base = osp.join(root, 'stanford_cars')
    os.makedirs(osp.join(base, 'devkit'), exist_ok=True)
    scipy.io.savemat(osp.join(base, 'devkit', 'cars_meta.mat'),
                     {'class_names': np.array(_class_names(num_classes), dtype=object)[None]})
    for split, count in (('train', num_train), ('test', num_val)):
        os.makedirs(osp.join(base, f'cars_{split}'), exist_ok=True)
        rows = []
        for i, label in enumerate(rng.permutation(np.arange(count) % num_classes), 1):
            height, width = int(rng.integers(56, 96)), int(rng.integers(80, 144))  # wide, as cars
            pixels, shown = class_scene(rng, int(label), height, width)
            fname = f'{i:05d}.jpg'
            Image.fromarray(pixels).save(osp.join(base, f'cars_{split}', fname), quality=90)
            rows.append((_box(shown), int(label) + 1, fname))
        if split == 'train':
            scipy.io.savemat(osp.join(base, 'devkit', 'cars_train_annos.mat'),
                             {'annotations': _annotations(rows, with_class=True)})
        else:
            scipy.io.savemat(osp.join(base, 'devkit', 'cars_test_annos.mat'),
                             {'annotations': _annotations(rows, with_class=False)})
            scipy.io.savemat(osp.join(base, 'cars_test_annos_withlabels.mat'),
                             {'annotations': _annotations(rows, with_class=True)})
