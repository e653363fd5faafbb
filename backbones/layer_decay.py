"""Layer-wise learning-rate decay for the suite's ViT, usable from mmdet and mmseg alike.

mmseg's own constructor accepts only BEiT/MAE/ConvNeXt class names and mmdet's lives in a project
package; this one reads layer ids from the parameter names of
:class:`~backbones.vit.VisionTransformer`.
"""
from typing import Iterable, List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

__all__ = ['ViTLayerDecayOptimWrapperConstructor', 'exempt_from_weight_decay', 'vit_depth',
           'vit_layer_id']

_EMBEDDINGS = ('patch_embed', 'pos_embed', 'cls_token', 'reg_token')


def exempt_from_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Whether a parameter takes no weight decay under the suite's rule: biases and 1-D parameters
    (norms, layer scales) do not; ``name`` as ``named_parameters`` gives it."""
    return param.ndim <= 1 or name.rsplit('.', 1)[-1] == 'bias'


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


def vit_depth(names: Iterable[str]) -> Optional[int]:
    """The number of blocks of the backbone whose parameter names these are (``backbone.blocks.
    <i>.``), None without any."""
    blocks = [int(n.split('backbone.blocks.', 1)[1].split('.')[0]) for n in names
              if 'backbone.blocks.' in n]
    return max(blocks) + 1 if blocks else None


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scales the lr of layer ``l`` by ``decay_rate ** (num_layers + 1 - l)``.

    Biases, 1-D parameters (layer scales too), the position table, the CLS token and the register
    tokens get no weight decay. Frozen
    parameters are left out of the optimizer.

    ``paramwise_cfg``: ``num_layers`` (the ViT depth, required, checked against the backbone's
    blocks) and ``decay_rate`` (default 1.0,
    i.e. no decay: only the weight-decay rule applies).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if 'num_layers' not in (paramwise_cfg or {}):
            raise KeyError('ViTLayerDecayOptimWrapperConstructor needs paramwise_cfg.num_layers '
                           '(the ViT depth, e.g. 12 for ViT-B)')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        num_layers = self.paramwise_cfg['num_layers']
        depth = vit_depth(name for name, _ in module.named_parameters())
        if depth not in (None, num_layers):
            raise ValueError(f'ViTLayerDecayOptimWrapperConstructor: paramwise_cfg.num_layers is '
                             f'{num_layers}, but model.backbone has {depth} blocks: set them equal')
        rate = self.paramwise_cfg.get('decay_rate', 1.0)
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer = vit_layer_id(name, num_layers)
            no_decay = exempt_from_weight_decay(name, param) or any(
                f'.{e}' in name for e in _EMBEDDINGS[1:])
            key = (layer, no_decay)
            if key not in groups:
                groups[key] = dict(params=[], lr=self.base_lr * rate ** (num_layers + 1 - layer),
                                   weight_decay=0.0 if no_decay else self.base_wd)
            groups[key]['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
