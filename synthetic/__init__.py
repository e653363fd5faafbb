"""Generators of small synthetic datasets in the standard on-disk layouts of the real ones, and of
stand-ins for released encoders in their layouts."""
from .ade import ADE_IDS, make_ade20k
from .cars import make_cars
from .clevr import make_clevr
from .coco import COCO_CLASSES, make_coco
from .cub import make_cub
from .imagefolder import make_imagenet, make_images
from .inat import make_inat21
from .nyu import make_nyu
from .timm_encoder import make_timm_encoder

#: Generator per dataset name, as used by ``tools/make_synthetic_data.py``.
GENERATORS = {'ade20k': make_ade20k, 'cars': make_cars, 'clevr': make_clevr, 'coco': make_coco,
              'cub': make_cub, 'imagenet': make_imagenet, 'images': make_images,
              'inat21': make_inat21, 'nyu': make_nyu}
#: Generator per released-encoder stand-in, as a suite preset's ``synthetic`` names it.
ENCODERS = {'timm_encoder': make_timm_encoder}

__all__ = ['ADE_IDS', 'COCO_CLASSES', 'ENCODERS', 'GENERATORS', 'make_ade20k', 'make_cars',
           'make_clevr', 'make_coco', 'make_cub', 'make_imagenet', 'make_images', 'make_inat21',
           'make_nyu', 'make_timm_encoder']
