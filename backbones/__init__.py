"""The suite's ViT and its OpenMMLab glue.

Importing this package registers ``JEPAViT``, ``SimpleFeaturePyramid`` and
``ViTLayerDecayOptimWrapperConstructor`` with mmengine, and installs safe checkpoint loading.
"""
from . import safe_checkpoint  # noqa: F401  (registers the allowlist and atomic writes)
from .layer_decay import ViTLayerDecayOptimWrapperConstructor, vit_layer_id
from .mm_backbone import JEPAViT
from .simple_fpn import SimpleFeaturePyramid
from .vit import ARCHS, VisionTransformer
from .weights import encoder_state_dict, load_encoder_weights, to_timm_state_dict

__all__ = ['ARCHS', 'JEPAViT', 'SimpleFeaturePyramid', 'ViTLayerDecayOptimWrapperConstructor',
           'VisionTransformer', 'encoder_state_dict', 'load_encoder_weights', 'to_timm_state_dict',
           'vit_layer_id']
