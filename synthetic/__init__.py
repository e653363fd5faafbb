"""Generators of small synthetic datasets in the standard on-disk layouts of the real ones."""
from .clevr import make_clevr
from .coco import COCO_CLASSES, make_coco
from .imagefolder import make_imagenet, make_images

#: Generator per dataset name, as used by ``tools/make_synthetic_data.py``.
GENERATORS = {'coco': make_coco, 'imagenet': make_imagenet, 'images': make_images,
              'clevr': make_clevr}

__all__ = ['COCO_CLASSES', 'GENERATORS', 'make_clevr', 'make_coco', 'make_imagenet', 'make_images']
