"""The suite's ViT and its OpenMMLab glue.

Importing this package registers ``JEPAViT``, ``SimpleFeaturePyramid`` and
``ViTLayerDecayOptimWrapperConstructor`` with mmengine's registries and changes nothing else in
torch or mmengine: safe checkpoint I/O is enabled explicitly, by
:func:`backbones.safe_checkpoint.enable_safe_checkpoints`.
"""
from .layer_decay import ViTLayerDecayOptimWrapperConstructor, vit_layer_id
from .mm_backbone import JEPAViT
from .simple_fpn import SimpleFeaturePyramid
from .vit import ARCHS, VisionTransformer
from .weights import (encoder_state_dict, load_encoder_weights, read_encoder, read_weights_file,
                      release_networks, save_timm_folder, timm_config, to_release)

__all__ = ['ARCHS', 'JEPAViT', 'SimpleFeaturePyramid', 'ViTLayerDecayOptimWrapperConstructor',
           'VisionTransformer', 'encoder_state_dict', 'load_encoder_weights', 'read_encoder',
           'read_weights_file', 'release_networks', 'save_timm_folder', 'timm_config',
           'to_release', 'vit_layer_id']
