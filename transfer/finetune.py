"""Full fine-tuning of a pretrained encoder for classification (SPEC sections 4d and 4e): MAE's
recipe (facebookresearch/mae ``main_finetune.py``, ``models_vit.py``) on the suite's ViT.

:class:`FineTuneClassifier` trains the whole encoder with a new linear head on one pooled readout,
with timm's Mixup / CutMix and its losses; its predictions are those of the linear probes, so
:class:`~transfer.probe.ProbeAccuracy` reports them (``<prefix>/top1_<pooling>``) with their
per-image records. Layer-wise lr decay is the suite's
:class:`~backbones.layer_decay.ViTLayerDecayOptimWrapperConstructor`, the schedules are mmengine's
(configs/_base_/schedules/finetune_*.py) and the augmentation is timm's
(:class:`~transfer.classification_transforms.PackTimmInputs`).
"""
from typing import Callable, Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from .features import model_input

__all__ = ['FineTuneClassifier', 'POOLINGS', 'finetune_criterion']

#: pooling -> what the head reads
POOLINGS = {
    'avg': "the mean of the last block's patch tokens (prefix tokens excluded) before the "
           "encoder's final LayerNorm, then a new LayerNorm, fc_norm (MAE's global_pool)",
    'cls': "the CLS token after the encoder's final LayerNorm (MAE's --cls_token)",
}


def finetune_criterion(mixup: Optional[dict], label_smoothing: float
                       ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """MAE's loss: soft-target cross-entropy on mixed targets (their smoothing is Mixup's), else
    label-smoothed cross-entropy, else (``label_smoothing`` 0) plain cross-entropy."""
    if mixup is not None:
        return SoftTargetCrossEntropy()
    if label_smoothing > 0:
        return LabelSmoothingCrossEntropy(smoothing=label_smoothing)
    return F.cross_entropy


@MODELS.register_module()
class FineTuneClassifier(BaseModel):
    """A trainable encoder with a linear head on one pooled readout (:data:`POOLINGS`).

    Args:
        backbone: a :class:`~backbones.mm_backbone.JEPAViT` config (its ``init_cfg`` loads the
            pretrained target encoder; its ``drop_path_rate`` grows linearly over the blocks).
        num_classes: classes of the task.
        pooling: ``'avg'`` or ``'cls'`` (needs ``use_cls_token=True``).
        mixup: ``timm.data.Mixup`` arguments (``num_classes`` is the model's), applied to each
            training batch, whose size must then be even (drop the last partial batch); None: no
            mixing.
        label_smoothing: the smoothing of the cross-entropy without mixup (with it, mixup's own
            ``label_smoothing`` applies).

    With ``'avg'`` the encoder's final LayerNorm is unused, as MAE deletes it; it is frozen here
    rather than deleted, so the pretrained weights still load strictly and no trainable parameter
    goes without a gradient (which DDP refuses). The head is trunc-normal (std 2e-5) with a zero
    bias, as MAE initialises it.
    """

    def __init__(self, backbone: dict, num_classes: int, pooling: str = 'avg',
                 mixup: Optional[dict] = None, label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pooling not in POOLINGS:
            raise KeyError(f'unknown pooling {pooling!r}; choose one of {sorted(POOLINGS)}')
        self.backbone = MODELS.build(backbone)
        if pooling == 'cls' and self.backbone.cls_token is None:
            raise ValueError("pooling='cls' needs an encoder with a CLS token "
                             '(model.backbone.use_cls_token=True)')
        self.pooling, self.num_classes = pooling, num_classes
        dim = self.backbone.embed_dim
        if pooling == 'avg':
            self.backbone.norm.requires_grad_(False)
            self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=2e-5)
        nn.init.zeros_(self.head.bias)
        self.mixup = None if mixup is None else Mixup(**dict(mixup, num_classes=num_classes))
        self.criterion = finetune_criterion(mixup, label_smoothing)

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """The pooled features (B, D) of images: float ones normalised already (timm's transforms),
        uint8 ones normalised here with ImageNet's mean and std."""
        x = model_input(images)
        ((patches, prefix),) = self.backbone.forward_intermediates(
            x, 1, norm='last' if self.pooling == 'cls' else False, return_prefix_tokens=True,
            output_fmt='NLC', intermediates_only=True)
        if self.pooling == 'cls':
            return prefix[:, 0]
        return self.fc_norm(patches.mean(1))

    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], List[dict]]:
        """``tensor``: logits; ``loss``: ``dict(loss=...)`` on the (mixed) batch; ``predict``: per
        image ``dict(gt=label, pred={pooling: class})``, what ``ProbeAccuracy`` reads."""
        if mode == 'loss':
            targets = data_samples
            if self.mixup is not None:
                inputs, targets = self.mixup(inputs, data_samples)
            return dict(loss=self.criterion(self.head(self.pooled(inputs)), targets))
        logits = self.head(self.pooled(inputs))
        if mode == 'tensor':
            return logits
        if mode == 'predict':
            preds = logits.argmax(-1).tolist()
            return [dict(gt=int(y), pred={self.pooling: p})
                    for y, p in zip(data_samples.tolist(), preds)]
        raise ValueError(f'unknown mode {mode!r}')
