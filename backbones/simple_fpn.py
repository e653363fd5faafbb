"""The simple feature pyramid (ViTDet) fed by several ViT blocks, as in SPEC section 4."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from timm.layers import LayerNorm2d
from torch import nn

__all__ = ['SimpleFeaturePyramid']


def _rescale(channels: int, scale: float) -> Tuple[nn.Module, int]:
    """The stride-changing stem of one level and the channels it outputs."""
    if scale == 4:
        half = channels // 2
        return nn.Sequential(
            nn.ConvTranspose2d(channels, half, 2, stride=2), LayerNorm2d(half), nn.GELU(),
            nn.ConvTranspose2d(half, half // 2, 2, stride=2)), half // 2
    if scale == 2:
        return nn.ConvTranspose2d(channels, channels // 2, 2, stride=2), channels // 2
    if scale == 1:
        return nn.Identity(), channels
    if scale == 0.5:
        return nn.MaxPool2d(2, stride=2), channels
    raise ValueError(f'scale factor {scale} is not one of 4, 2, 1, 0.5')


@MODELS.register_module()
class SimpleFeaturePyramid(nn.Module):
    """One ViT feature map per level: deconvs up to stride 4 and 8, identity at 16, max-pool to 32.

    Each level then goes through a 1x1 and a 3x3 conv, each followed by LayerNorm, to
    ``out_channels``; ``num_outs`` beyond the inputs add stride-2 max-pooled levels (P6).

    Args:
        in_channels: ViT width of each input map (one per scale factor).
        scale_factors: one per input; the default turns stride-16 maps into strides 4/8/16/32.
    """

    def __init__(self, in_channels: Sequence[int] = (768, 768, 768, 768),
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 out_channels: int = 256, num_outs: int = 5) -> None:
        super().__init__()
        if len(in_channels) != len(scale_factors):
            raise ValueError(f'{len(in_channels)} inputs but {len(scale_factors)} scale factors')
        if num_outs < len(scale_factors):
            raise ValueError(f'num_outs={num_outs} is below the {len(scale_factors)} input levels')
        self.num_outs = num_outs
        self.stems = nn.ModuleList()
        self.projs = nn.ModuleList()
        for channels, scale in zip(in_channels, scale_factors):
            stem, width = _rescale(channels, scale)
            self.stems.append(stem)
            self.projs.append(nn.Sequential(
                nn.Conv2d(width, out_channels, 1, bias=False), LayerNorm2d(out_channels),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                LayerNorm2d(out_channels)))

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(feats) != len(self.stems):
            raise ValueError(f'expected {len(self.stems)} feature maps, got {len(feats)}')
        outs: List[torch.Tensor] = [proj(stem(f)) for f, stem, proj in
                                    zip(feats, self.stems, self.projs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
