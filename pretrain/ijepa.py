"""I-JEPA: predict 4 target blocks from one context block (Assran et al., 2023)."""
from typing import Dict

import torch
from mmengine.registry import MODELS

from .jepa import JEPAModel, gather_tokens, smooth_l1

__all__ = ['IJEPA']


@MODELS.register_module()
class IJEPA(JEPAModel):
    """One I-JEPA step on multi-block masks (see :mod:`pretrain.masks`).

    ``masks``: ``context`` (B, Lc), ``context_valid`` (B, Lc) or None, ``targets`` (B, M, Lt),
    optionally ``context_lengths``, the real entries of each context row as host integers.
    """

    def predict_blocks(self, images: torch.Tensor, masks: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Predictions (B, M, Lt, D) of the target blocks from the context block."""
        lengths = masks.get('context_lengths')  # host integers: packing need not wait
        context = self.encode_context(images, masks['context'], masks['context_valid'],
                                      keep_lengths=lengths)
        return self.predictor(context, masks['context'], masks['context_valid'], masks['targets'],
                              context_lengths=lengths)

    def loss(self, images: torch.Tensor, masks: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        targets = gather_tokens(self.target_tokens(images), masks['targets'])
        return dict(loss=smooth_l1(self.predict_blocks(images, masks), targets))
