"""DINOv2's linear depth probe for mmseg's ``DepthEstimator`` (SPEC section 4h, NYU-Depth v2): a
1x1 convolution from the frozen encoder's block outputs to 256 depth bins, and its two losses.

* :class:`LinearDepthHead`: the chosen blocks' patch tokens (with each block's CLS or average token
  broadcast beside them, if asked) concatenated, upsampled x4, one 1x1 conv to bin scores (the
  two applied in the other order, to the same result), and depth the bin centres weighted by the
  scores normalised as AdaBins' "linear" rule does.
* :class:`ScaleInvariantLogLoss`: sqrt(Var g + 0.15 mean(g)^2), g = log pred - log gt over the
  batch's valid pixels; its first ``warm_up_iters`` training calls keep the mean term only.
* :class:`LogDepthGradientLoss`: the multi-scale gradient matching of log depth (MegaDepth's, as
  DINOv2 weighs it beside the first).

The configs import this module by name (``custom_imports``); it registers them in mmseg's
``MODELS``.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from backbones.vit import Features

__all__ = ['LinearDepthHead', 'LogDepthGradientLoss', 'ScaleInvariantLogLoss']

#: the token a layer's patch map is paired with: none, its CLS token, its average patch token
TOKENS = (None, 'cls', 'avg')


@MODELS.register_module()
class LinearDepthHead(BaseDecodeHead):
    """DINOv2's linear depth head (its ``BNHead`` without BN, classify mode, uniform bins).

    Args:
        in_channels: the width of each block output read, one entry per encoder output, in order.
        token: ``None`` reads the patch tokens alone; ``'cls'`` concatenates each block's CLS token
            (the first prefix token: the backbone needs ``with_prefix_tokens=True`` and a CLS),
            broadcast over the grid, after its patch tokens (DINOv2's head); ``'avg'`` the block's
            average patch token instead, for encoders without a CLS.
        upsample: the bilinear upsampling of the concatenated maps before the conv.
        n_bins: depth bins, uniform on [``min_depth``, ``max_depth``] (ends included).
        min_depth, max_depth: the bins' range in metres; ground truth counts in the loss only
            strictly inside it.
        loss_decode: the loss configs; each takes ``(pred, gt, valid)`` in metres.
        align_corners: for the bilinear resizes.
        init_cfg: the conv keeps PyTorch's default initialisation unless given, as DINOv2's does.
    """

    num_classes = 1
    out_channels = 1

    def __init__(self, in_channels: Sequence[int], token: Optional[str] = None,
                 upsample: int = 4, n_bins: int = 256, min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 loss_decode: Union[dict, Sequence[dict]] = (
                     dict(type='ScaleInvariantLogLoss'),
                     dict(type='LogDepthGradientLoss', loss_weight=0.5)),
                 align_corners: bool = False, init_cfg: Optional[dict] = None) -> None:
        # BaseDecodeHead's own __init__ builds a classifier and a segmentation loss that a depth
        # head has no use for: only BaseModule's runs, as in mmseg's VPDDepthHead
        super(BaseDecodeHead, self).__init__(init_cfg)
        if token not in TOKENS:
            raise ValueError(f'LinearDepthHead token must be one of {TOKENS}, got {token!r}')
        if not 0 < min_depth < max_depth:
            raise ValueError(f'LinearDepthHead needs 0 < min_depth < max_depth, got '
                             f'{min_depth}, {max_depth}')
        self.in_channels = list(in_channels)
        self.token = token
        self.upsample = upsample
        self.min_depth, self.max_depth = min_depth, max_depth
        self.align_corners = align_corners
        width = sum(self.in_channels) * (1 if token is None else 2)
        self.conv_depth = nn.Conv2d(width, n_bins, kernel_size=1)
        self.register_buffer('bins', torch.linspace(min_depth, max_depth, n_bins),
                             persistent=False)
        losses = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        self.loss_decode = nn.ModuleList(MODELS.build(cfg) for cfg in losses)

    def extra_repr(self) -> str:
        return (f'token={self.token}, upsample={self.upsample}, '
                f'bins=[{self.min_depth}, {self.max_depth}] x {len(self.bins)}')

    def layer_map(self, feature: Features) -> torch.Tensor:
        """One block's output as the head reads it: its patch map (B, D, h, w), followed along the
        channels by its CLS or average token broadcast over the grid when ``token`` asks."""
        patches, prefix = feature if isinstance(feature, (tuple, list)) else (feature, None)
        if self.token is None:
            return patches
        if self.token == 'avg':
            token = patches.mean(dim=(2, 3))
        elif prefix is None or prefix.shape[1] == 0:
            raise ValueError("LinearDepthHead token='cls' needs the CLS token: set the backbone's "
                             'with_prefix_tokens=True and use_cls_token=True')
        else:
            token = prefix[:, 0]
        return torch.cat((patches, token[:, :, None, None].expand_as(patches)), dim=1)

    def forward(self, inputs: Sequence[Features]) -> torch.Tensor:
        """Depth in metres (B, 1, ``upsample`` h, ``upsample`` w) from the encoder's outputs."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'LinearDepthHead got {len(inputs)} feature maps, but in_channels '
                             f'names {len(self.in_channels)}: match it to backbone.out_indices')
        x = torch.cat([self.layer_map(f) for f in inputs], dim=1)
        # The 1x1 conv before the upsampling, DINOv2's order reversed: both are linear and the
        # bilinear weights sum to 1, so the scores are the same, and the wide concatenation
        # (up to 2 x 4 x 1280 channels) is never held at 16 times its size. From the scores on,
        # float32 whatever the autocast.
        scores = F.interpolate(self.conv_depth(x).float(), scale_factor=self.upsample,
                               mode='bilinear', align_corners=self.align_corners)
        return self.depth_from_scores(scores)

    def depth_from_scores(self, scores: torch.Tensor) -> torch.Tensor:
        """AdaBins' "linear" normalisation (ReLU, + 0.1, divided by the sum) of bin scores
        (B, bins, H, W), then the expected bin centre."""
        weights = torch.relu(scores) + 0.1
        weights = weights / weights.sum(dim=1, keepdim=True)
        # elementwise, not einsum: autocast would run einsum's matrix product in bf16
        return (weights * self.bins[:, None, None]).sum(dim=1, keepdim=True)

    def _stack_batch_gt(self, batch_data_samples: SampleList) -> torch.Tensor:
        return torch.stack([s.gt_depth_map.data for s in batch_data_samples]).float()

    def loss_by_feat(self, pred: torch.Tensor, batch_data_samples: SampleList) -> dict:
        """Each loss of ``loss_decode`` on the prediction resized to the labels, over the pixels
        whose depth lies inside (``min_depth``, ``max_depth``): padding (0) is left out."""
        gt = self._stack_batch_gt(batch_data_samples)
        pred = F.interpolate(pred, size=gt.shape[2:], mode='bilinear',
                             align_corners=self.align_corners)
        valid = (gt > self.min_depth) & (gt < self.max_depth)
        losses = {}
        for loss in self.loss_decode:
            value = loss(pred, gt, valid)
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + value
        return losses


def _log_difference(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log pred - log gt, 0 where not valid (gt may be 0 there)."""
    return torch.where(valid, torch.log(pred) - torch.log(torch.where(valid, gt, 1.0)), 0.0)


@MODELS.register_module()
class ScaleInvariantLogLoss(nn.Module):
    """The scale-invariant log loss of DINOv2's depth probes (AdaBins' form): with g = log pred -
    log gt over the valid pixels of the whole batch, sqrt(Var g + ``variance_focus`` mean(g)^2)
    (Var the population variance). The first ``warm_up_iters`` calls in training drop the variance
    term, as DINOv2's warm-up does; the calls are counted in a buffer, so the count is saved with
    the model and a resumed run goes on from it.

    Args:
        variance_focus: the weight of the squared mean (DINOv2: 0.15).
        warm_up_iters: training calls with the mean term only (0: none).
        loss_weight: the weight of the loss.
        loss_name: the key it is logged under (``loss_`` prefix: in the backward graph).
    """

    def __init__(self, variance_focus: float = 0.15, warm_up_iters: int = 100,
                 loss_weight: float = 1.0, loss_name: str = 'loss_silog') -> None:
        super().__init__()
        self.variance_focus = variance_focus
        self.warm_up_iters = warm_up_iters
        self.loss_weight = loss_weight
        self.loss_name = loss_name
        self.register_buffer('calls', torch.zeros((), dtype=torch.long))

    def forward(self, pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        warming = self.training and int(self.calls) < self.warm_up_iters
        if self.training:
            self.calls += 1
        if not valid.any():  # nothing to fit: a zero that keeps the graph
            return pred.sum() * 0
        g = torch.log(pred[valid]) - torch.log(gt[valid])
        mean = g.mean()
        variance = 0 if warming else (g - mean).pow(2).mean()
        return self.loss_weight * torch.sqrt(variance + self.variance_focus * mean ** 2)


@MODELS.register_module()
class LogDepthGradientLoss(nn.Module):
    """Gradient matching of log depth (MegaDepth's term, weighted 0.5 in DINOv2's probes): at each
    subsampling step s of ``scales``, the absolute differences of d = log pred - log gt between
    pixels two apart, vertically and horizontally, where both are valid, summed over the batch and
    divided by the valid pixels at that step; the steps' terms are added.

    DINOv2's code applies this term to (B, 1, H, W) batches with 2-D indexing, so that it compares
    images of the batch instead of neighbouring pixels; this one compares pixels, in each image.

    Args:
        scales: the subsampling steps (DINOv2's: 1, 2, 4, 6).
        loss_weight: the weight of the loss.
        loss_name: the key it is logged under.
    """

    def __init__(self, scales: Sequence[int] = (1, 2, 4, 6), loss_weight: float = 1.0,
                 loss_name: str = 'loss_grad') -> None:
        super().__init__()
        self.scales = tuple(scales)
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        diff = _log_difference(pred, gt, valid)
        terms: List[torch.Tensor] = []
        for s in self.scales:
            d, m = diff[..., ::s, ::s], valid[..., ::s, ::s]
            count = m.sum()
            if count == 0:
                continue
            vertical = (d[..., :-2, :] - d[..., 2:, :]).abs() * (m[..., :-2, :] & m[..., 2:, :])
            horizontal = (d[..., :-2] - d[..., 2:]).abs() * (m[..., :-2] & m[..., 2:])
            terms.append((vertical.sum() + horizontal.sum()) / count)
        return self.loss_weight * sum(terms) if terms else pred.sum() * 0
