"""DSeq-JEPA: predict saliency-ranked regions one after another (SPEC section 3).

Its four ideas, one function each:

1. saliency, :func:`encoder_saliency`: how strongly the target encoder's CLS parameter attends to
   each patch at block ``saliency_block``, read from the same no-grad pass that gives the targets;
2. regions, :func:`~pretrain.regions.select_regions`: saliency-ranked regions R1..RN;
3. the sequence, :func:`~pretrain.sequence.sequence_errors`: R(k+1) predicted from
   C_k = R1 u ... u Rk, in a mode registered by name (``prefix`` or ``causal``);
4. the curriculum, :func:`is_dseq_step`: with probability lambda = t / T a step is a DSeq step,
   else an I-JEPA step on the batch's multi-block masks.

An image with no region at all contributes nothing to a DSeq step (``no_region='skip'``, the
default) or its I-JEPA prediction on its multi-block masks (``no_region='ijepa'``), pooled token by
token with the region steps; if no image of the batch has a region, the step is the I-JEPA step on
the batch's masks either way, on the targets of the same target pass.
"""
import math
from typing import Dict, Optional, Tuple

import torch
from mmengine.registry import MODELS

from backbones.vit import VisionTransformer, patch_grid
from .ijepa import IJEPA, gather_tokens
from .jepa import layer_norm_targets, smooth_l1_sum
from .masks import derive_seed
from .regions import select_regions
from .sequence import SEQUENCE_MODES, sequence_errors

__all__ = ['DSeqJEPA', 'saliency_map', 'encoder_saliency', 'curriculum_draw', 'is_dseq_step']

_CURRICULUM_STREAM = 0x5EC  # keeps the curriculum's draws apart from the masks' streams


def saliency_map(tokens: torch.Tensor, norm: torch.nn.Module, query: torch.Tensor) -> torch.Tensor:
    """A_j = <q, LN(z_j)> / sqrt(D), min-max normalised per image.

    Args:
        tokens: (B, N, D) patch outputs z of the saliency block.
        norm: the encoder's final LayerNorm.
        query: (D,) the CLS parameter q of the target encoder (not a hidden state).
    """
    scores = norm(tokens) @ query / math.sqrt(tokens.shape[-1])
    lo = scores.min(1, keepdim=True).values
    hi = scores.max(1, keepdim=True).values
    return (scores - lo) / (hi - lo + 1e-6)


@torch.no_grad()
def encoder_saliency(encoder: VisionTransformer, images: torch.Tensor,
                     block: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The saliency (B, h, w) of ``images`` at ``block`` of ``encoder`` (:func:`saliency_map` in
    fp32), and the final tokens (B, prefix + N, D) of the same pass, from which the targets come."""
    final, (tokens,) = encoder.forward_intermediates(images, [block], output_fmt='NLC')
    with torch.autocast(images.device.type, enabled=False):  # regions from fp32 saliency
        saliency = saliency_map(tokens.float(), encoder.norm, encoder.cls_token[0, 0].float())
    grid = patch_grid(tuple(images.shape[-2:]), encoder.patch_size, 'the input')
    return final, saliency.view(-1, *grid)


def curriculum_draw(seed: int, step: int) -> float:
    """The uniform number in [0, 1) that decides step ``step``: the same on every rank and resume."""
    return derive_seed(seed, step, _CURRICULUM_STREAM) * 2.0 ** -32


def is_dseq_step(seed: int, step: int, progress: float) -> bool:
    """The curriculum: step ``step`` is a DSeq step with probability ``progress`` (t / T)."""
    return curriculum_draw(seed, step) < progress


def _select(masks: Dict[str, torch.Tensor], rows: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The multi-block masks of the images ``rows`` (B,) bool of a batch."""
    valid = masks['context_valid']
    return dict(context=masks['context'][rows], targets=masks['targets'][rows],
                context_valid=None if valid is None else valid[rows])


@MODELS.register_module()
class DSeqJEPA(IJEPA):
    """DSeq-JEPA on the I-JEPA model, with a CLS token.

    Args:
        num_regions, min_area: region selection (N = 5, 15% of the grid).
        saliency_block: block whose outputs give the saliency (default: int(depth * 5 / 6), i.e.
            10 of 12, 20 of 24, 26 of 32).
        mode: a :data:`~pretrain.sequence.SEQUENCE_MODES` name, ``'prefix'`` or ``'causal'``.
        curriculum: DSeq step with probability t / T (:func:`is_dseq_step`); False makes every step
            a DSeq step.
        seed: seeds the curriculum's draws.
        no_region: what an image without any region does in a DSeq step: ``'skip'`` (nothing)
            or ``'ijepa'`` (its I-JEPA prediction, pooled with the region steps' tokens).
    """

    def __init__(self, encoder: dict, predictor: dict, num_regions: int = 5,
                 min_area: float = 0.15, saliency_block: Optional[int] = None,
                 mode: str = 'prefix', curriculum: bool = True, seed: int = 0,
                 no_region: str = 'skip', **kwargs) -> None:
        if mode not in SEQUENCE_MODES:
            raise ValueError(f'mode must be one of {sorted(SEQUENCE_MODES.module_dict)}, '
                             f'got {mode!r}')
        if no_region not in ('skip', 'ijepa'):
            raise ValueError(f"no_region must be 'skip' or 'ijepa', got {no_region!r}")
        super().__init__(dict(encoder, use_cls_token=True), predictor, **kwargs)
        self.mode = mode
        self.sequence = SEQUENCE_MODES.build(dict(type=mode))
        depth = self.target_encoder.depth
        self.saliency_block = int(depth * 5 / 6) if saliency_block is None else saliency_block
        self.num_regions, self.min_area = num_regions, min_area
        self.curriculum, self.seed, self.no_region = curriculum, seed, no_region

    @torch.no_grad()
    def targets_and_regions(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Layer-normed targets (B, P, D) and regions (B, N, P) from one target-encoder pass."""
        enc = self.target_encoder
        final, saliency = encoder_saliency(enc, images, self.saliency_block)
        targets = layer_norm_targets(final[:, enc.num_prefix_tokens:])
        return targets, select_regions(saliency, self.num_regions, self.min_area)

    def loss(self, images: torch.Tensor, masks: dict) -> Dict[str, torch.Tensor]:
        """The loss, plus ``dseq`` (1 for a DSeq step) and the share of images without a region,
        for the log."""
        if self.curriculum and not is_dseq_step(self.seed, masks['step'], self.progress):
            return dict(super().loss(images, masks), dseq=images.new_zeros(()))
        targets, regions = self.targets_and_regions(images)
        has_region = regions[:, 0].any(-1)
        stats = dict(dseq=images.new_ones(()), no_region=(~has_region).float().mean())
        parts = []
        if bool(has_region.any()):
            parts.append(sequence_errors(self, images, targets, regions, self.sequence))
        if self.no_region == 'ijepa' or not parts:  # with no image to predict, the I-JEPA step
            rest = ~has_region
            if bool(rest.any()):
                parts.append(self.block_errors(images[rest], targets[rest], _select(masks, rest)))
        error, count = (sum(part) for part in zip(*parts))
        return dict(loss=error / count, **stats)

    def block_errors(self, images: torch.Tensor, targets: torch.Tensor,
                     masks: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The I-JEPA step's :func:`~pretrain.jepa.smooth_l1_sum` on given targets (B, P, D)."""
        return smooth_l1_sum(self.predict_blocks(images, masks),
                             gather_tokens(targets, masks['targets']))
