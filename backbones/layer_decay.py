"""Layer-wise learning-rate decay for the suite's ViT, usable from mmdet and mmseg alike.

mmseg's own constructor accepts only BEiT/MAE/ConvNeXt class names and mmdet's lives in a project
package; this one reads layer ids from the parameter names of
:class:`~backbones.vit.VisionTransformer`.
"""
from typing import List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

__all__ = ['ViTLayerDecayOptimWrapperConstructor', 'vit_layer_id']

_EMBEDDINGS = ('patch_embed', 'pos_embed', 'cls_token', 'reg_token')


def vit_layer_id(name: str, num_layers: int) -> int:
    """0 for the embeddings, ``i + 1`` for block ``i``, ``num_layers + 1`` for everything else."""
    if 'backbone.' not in name:
        return num_layers + 1
    rest = name.split('backbone.', 1)[1]
    if rest.startswith(_EMBEDDINGS):
        return 0
    if rest.startswith('blocks.'):
        return int(rest.split('.')[1]) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scales the lr of layer ``l`` by ``decay_rate ** (num_layers + 1 - l)``.

    Biases, 1-D parameters (layer scales too), the position table, the CLS token and the register
    tokens get no weight decay. Frozen
    parameters are left out of the optimizer.

    ``paramwise_cfg``: ``num_layers`` (the ViT depth, required) and ``decay_rate`` (default 1.0,
    i.e. no decay: only the weight-decay rule applies).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if 'num_layers' not in (paramwise_cfg or {}):
            raise KeyError('ViTLayerDecayOptimWrapperConstructor needs paramwise_cfg.num_layers '
                           '(the ViT depth, e.g. 12 for ViT-B)')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        num_layers = self.paramwise_cfg['num_layers']
        rate = self.paramwise_cfg.get('decay_rate', 1.0)
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer = vit_layer_id(name, num_layers)
            no_decay = param.ndim == 1 or name.endswith('.bias') or any(
                f'.{e}' in name for e in _EMBEDDINGS[1:])
            key = (layer, no_decay)
            if key not in groups:
                groups[key] = dict(params=[], lr=self.base_lr * rate ** (num_layers + 1 - layer),
                                   weight_decay=0.0 if no_decay else self.base_wd)
            groups[key]['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
