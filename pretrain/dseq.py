"""DSeq-JEPA: predict saliency-ranked regions one after another (SPEC section 3).

Each step is, with probability lambda = t / T (the curriculum), a DSeq step, else an I-JEPA step on
the batch's multi-block masks. A DSeq step takes the saliency of the current target encoder from the
same no-grad pass that gives the targets, selects ranked regions R1..RN (:mod:`pretrain.regions`)
and predicts R(k+1) from the context C_k = R1 u ... u Rk for k = 1..N-1.

Mode ``prefix`` (the default, Eq. 5 read literally): every step k is its own sequence that encodes
exactly C_k (real patches plus CLS); all steps of the batch run in one padded pass of gathered tokens.
Steps whose target is empty are skipped, so the cost follows the regions actually found (most images
have one region at 14x14, i.e. one step: background from R1). An image with no region at all
contributes nothing to a DSeq step; if no image of the batch has one, the step falls back to I-JEPA.
"""
import math
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.registry import MODELS

from .ijepa import IJEPA, gather_tokens
from .regions import select_regions

__all__ = ['DSeqJEPA', 'saliency_map', 'prefix_steps', 'curriculum_draw']

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


def curriculum_draw(seed: int, step: int) -> float:
    """The uniform number in [0, 1) that decides step ``step``: the same on every rank and resume."""
    state = np.random.SeedSequence([seed, step, _CURRICULUM_STREAM]).generate_state(2)
    return float(int(state[0]) * 2.0 ** -32)


def _pack(mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(S, N) bool -> raster-ordered indices of the True entries padded to the longest row, and
    their validity, both (S, L)."""
    counts = mask.sum(1)
    length = max(int(counts.max()), 1)
    order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)[:, :length]
    return order, torch.arange(length, device=mask.device)[None] < counts[:, None]


def prefix_steps(regions: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The prediction steps of a batch of regions (B, N, P) in prefix mode.

    Step k of image b has context C_k = R1 u ... u Rk and target R(k+1), k = 1..N-1; steps with an
    empty context or target are left out. Returns ``image`` (S,) and ``k`` (S,) of the kept steps,
    their ``context`` / ``context_valid`` and ``target`` / ``target_valid`` index rows.
    """
    contexts = regions[:, :-1].cumsum(1) > 0
    targets = regions[:, 1:]
    keep = contexts.any(-1) & targets.any(-1)
    image, k = keep.nonzero(as_tuple=True)
    context, context_valid = _pack(contexts[image, k])
    target, target_valid = _pack(targets[image, k])
    return dict(image=image, k=k + 1, context=context, context_valid=context_valid, target=target,
                target_valid=target_valid)


@MODELS.register_module()
class DSeqJEPA(IJEPA):
    """DSeq-JEPA on the I-JEPA model, with a CLS token.

    Args:
        num_regions, min_area: region selection (N = 5, 15% of the grid).
        saliency_block: block whose outputs give the saliency (default: int(depth * 5 / 6), i.e.
            10 of 12, 20 of 24, 26 of 32).
        curriculum: DSeq step with probability t / T; False makes every step a DSeq step.
        seed: seeds the curriculum's draws.
    """

    def __init__(self, encoder: dict, predictor: dict, num_regions: int = 5,
                 min_area: float = 0.15, saliency_block: Optional[int] = None,
                 curriculum: bool = True, seed: int = 0, **kwargs) -> None:
        super().__init__(dict(encoder, use_cls_token=True), predictor, **kwargs)
        depth = self.target_encoder.depth
        self.saliency_block = int(depth * 5 / 6) if saliency_block is None else saliency_block
        self.num_regions, self.min_area = num_regions, min_area
        self.curriculum, self.seed = curriculum, seed

    def use_dseq(self, step: int) -> bool:
        if not self.curriculum:
            return True
        hub = MessageHub.get_current_instance()
        fraction = hub.get_info('iter', 0) / max(hub.get_info('max_iters', 1), 1)
        return curriculum_draw(self.seed, step) < fraction

    @torch.no_grad()
    def targets_and_regions(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One target pass: layer-normed targets (B, P, D) and regions (B, N, P)."""
        enc = self.target_encoder
        tokens, grid = enc.patchify(images)
        out, (mid,) = enc.run_blocks(enc.add_prefix(tokens), grid, out_indices=[self.saliency_block])
        prefix = enc.num_prefix_tokens
        targets = enc.norm(out)[:, prefix:]
        targets = F.layer_norm(targets, targets.shape[-1:])
        with torch.autocast(images.device.type, enabled=False):  # regions from fp32 saliency
            saliency = saliency_map(mid[:, prefix:].float(), enc.norm, enc.cls_token[0, 0].float())
        return targets, select_regions(saliency.view(-1, *grid), self.num_regions, self.min_area)

    def loss(self, images: torch.Tensor, masks: dict) -> Dict[str, torch.Tensor]:
        """The loss, plus ``dseq`` (1 for a DSeq step), the share of images without a region and
        the prediction steps per image, for the log."""
        if not self.use_dseq(masks['step']):
            return dict(super().loss(images, masks), dseq=images.new_zeros(()))
        targets, regions = self.targets_and_regions(images)
        steps = prefix_steps(regions)
        stats = dict(dseq=images.new_ones(()),
                     no_region=(~regions[:, 0].any(-1)).float().mean(),
                     steps_per_image=images.new_tensor(len(steps['image']) / len(images)))
        if len(steps['image']) == 0:  # no image has a region: keep the I-JEPA step
            return dict(super().loss(images, masks), **stats)
        context = self.encode_context(images, steps['context'], steps['context_valid'],
                                      steps['image'])
        pred = self.predictor(context, steps['context'], steps['context_valid'],
                              steps['target'][:, None], steps['target_valid'][:, None])[:, 0]
        target = gather_tokens(targets[steps['image']], steps['target'])
        valid = steps['target_valid'][..., None].float()
        error = F.smooth_l1_loss(pred.float(), target.float(), beta=1.0, reduction='none')
        return dict(loss=(error * valid).sum() / (valid.sum() * error.shape[-1]), **stats)
