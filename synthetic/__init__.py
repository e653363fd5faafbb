"""Generators of small synthetic datasets in the standard on-disk layouts of the real ones."""
from .ade import ADE_IDS, make_ade20k
from .clevr import make_clevr
from .coco import COCO_CLASSES, make_coco
from .imagefolder import make_imagenet, make_images

#: Generator per dataset name, as used by ``tools/make_synthetic_data.py``.
GENERATORS = {'ade20k': make_ade20k, 'clevr': make_clevr, 'coco': make_coco,
              'imagenet': make_imagenet, 'images': make_images}

__all__ = ['ADE_IDS', 'COCO_CLASSES', 'GENERATORS', 'make_ade20k', 'make_clevr', 'make_coco',
           'make_imagenet', 'make_images']
