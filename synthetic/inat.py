"""A small iNaturalist 2021 tree: annotation files and class folders as in the real one.

Writes::

    ROOT/train_mini.json, ROOT/val.json
    ROOT/{train_mini,val}/<dir>/<uuid>.jpg
        <dir> = <5-digit id>_<Kingdom>_<Phylum>_<Class>_<Order>_<Family>_<Genus>_<species>

The json files are COCO-style, as the real ones: ``images`` (id, file_name, width, height, ...),
``annotations`` (id, image_id, category_id), ``categories`` (id 0..C-1, name, the taxonomy and
``image_dir_name``). Every category has a folder in both splits, as in the real data (torchvision's
``INaturalist`` indexes the folders).
Images are :func:`~synthetic.shapes.class_scene`'s.
"""
import json
import os
import os.path as osp
import uuid
from typing import List

import numpy as np
from PIL import Image

from .shapes import class_scene

__all__ = ['make_inat21']

_KINGDOMS = ('Animalia', 'Plantae', 'Fungi')
_SYLLABLES = ('ca', 'lo', 'mi', 'ra', 'te', 'su', 'no', 'vi', 'pe', 'xa')


def _latin(index: int, ending: str) -> str:
    """A made-up Latin-looking name, distinct for each index."""
    digits = [int(d) for d in f'{index:03d}']
    return ''.join(_SYLLABLES[d] for d in digits) + ending


def _category(k: int) -> dict:
    """Category ``k``: a taxonomy in which neighbouring species share their higher ranks."""
    taxa = dict(kingdom=_KINGDOMS[k // 64 % len(_KINGDOMS)],
                phylum=_latin(k // 32, 'phyta').title(), **{'class': _latin(k // 16, 'ea').title()},
                order=_latin(k // 8, 'ales').title(), family=_latin(k // 4, 'idae').title(),
                genus=_latin(k // 2, 'us').title(), specific_epithet=_latin(k, 'is'))
    dir_name = '_'.join([f'{k:05d}'] + list(taxa.values()))
    return dict(id=k, name=f'{taxa["genus"]} {taxa["specific_epithet"]}',
                common_name=f'Synthetic species {k}', supercategory=taxa['kingdom'], **taxa,
                image_dir_name=dir_name)


def _write_split(rng: np.random.Generator, root: str, split: str, count: int,
                 categories: List[dict], first_id: int) -> dict:
    """Images of ``split`` (label ``i % C``) and its annotation document."""
    for category in categories:
        os.makedirs(osp.join(root, split, category['image_dir_name']), exist_ok=True)
    images, annotations = [], []
    for i in range(count):
        label, image_id = i % len(categories), first_id + i
        height, width = int(rng.integers(64, 128)), int(rng.integers(64, 128))
        photo = uuid.UUID(bytes=rng.bytes(16), version=4)  # from the seeded rng: reproducible
        name = f'{split}/{categories[label]["image_dir_name"]}/{photo}.jpg'
        pixels, _ = class_scene(rng, label, height, width)
        Image.fromarray(pixels).save(osp.join(root, name), quality=90)
        images.append(dict(id=image_id, width=width, height=height, file_name=name, license=0,
                           rights_holder='synthetic', date='2021-01-01 00:00:00+00:00',
                           latitude=float(rng.uniform(-60, 70)),
                           longitude=float(rng.uniform(-180, 180)),
                           location_uncertainty=int(rng.integers(5, 500))))
        annotations.append(dict(id=image_id, image_id=image_id, category_id=label))
    info = dict(year=2021, version='synthetic', description=f'synthetic iNat 2021 {split}')
    return dict(info=info, licenses=[dict(id=0, name='synthetic', url='')],
                images=images, annotations=annotations, categories=categories)


def make_inat21(root: str, num_train: int = 24, num_val: int = 12, seed: int = 0,
                num_classes: int = 6) -> None:
    """Write ``num_train`` train_mini and ``num_val`` val images over ``num_classes`` categories
    (image ``i`` of a split has category ``i % num_classes``) under ``root``."""
    rng = np.random.default_rng(seed)
    categories = [_category(k) for k in range(num_classes)]
    first_id = 0
    for split, count in (('train_mini', num_train), ('val', num_val)):
        doc = _write_split(rng, root, split, count, categories, first_id)
        first_id += count  # image ids are unique over both files
        with open(osp.join(root, f'{split}.json'), 'w') as f:
            json.dump(doc, f)
