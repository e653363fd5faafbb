"""The linear segmentation head of the frozen dense probes (SPEC section 4h, ADE20K linear): batch
norm over the encoder's channels, then a 1x1 convolution to the classes.

It imports mmseg, so :mod:`transfer` does not import it: the configs that use it name it in
``custom_imports``.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import build_norm_layer
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

__all__ = ['LinearSegHead']


@MODELS.register_module()
class LinearSegHead(BaseDecodeHead):
    """A linear read-out of patch features into class logits at the patch grid.

    Several maps (``in_index`` a list, ``input_transform='resize_concat'``) are concatenated along
    the channels, DINOv2's "+ms" multi-layer read-out; the norm then covers all of them. mmseg's
    :class:`BaseDecodeHead` upsamples the logits bilinearly to the input size, in the loss and in
    prediction alike, and holds the 1x1 convolution (``conv_seg``).

    Args:
        in_channels: the channels of the map read, or of each map read.
        norm_cfg: the norm over the input channels; default ``SyncBN``, the batch statistics over
            every GPU (mmengine's runner turns it into ``BN`` without distribution).
        dropout_ratio: dropout before the convolution; none in the recipe.
        **kwargs: the :class:`BaseDecodeHead` arguments (``num_classes``, ``in_index``,
            ``input_transform``, ``loss_decode``, ...); ``channels`` is the input's and not given.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 norm_cfg: Optional[dict] = None, dropout_ratio: float = 0.0, **kwargs) -> None:
        norm_cfg = norm_cfg or dict(type='SyncBN', requires_grad=True)
        width = in_channels if isinstance(in_channels, int) else sum(in_channels)
        super().__init__(in_channels, width, norm_cfg=norm_cfg, dropout_ratio=dropout_ratio,
                         **kwargs)
        self.bn = build_norm_layer(norm_cfg, width)[1]

    def forward(self, inputs: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Class logits (B, classes, h, w) at the grid of the (first) map read."""
        return self.cls_seg(self.bn(self._transform_inputs(inputs)))
