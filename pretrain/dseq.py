"""DSeq-JEPA: predict saliency-ranked regions one after another (SPEC section 3).

Each step is, with probability lambda = t / T (the curriculum), a DSeq step, else an I-JEPA step on
the batch's multi-block masks. A DSeq step takes the saliency of the current target encoder from the
same no-grad pass that gives the targets, selects ranked regions R1..RN (:mod:`pretrain.regions`)
and predicts R(k+1) from the context C_k = R1 u ... u Rk for k = 1..N-1.

Mode ``prefix`` (the default): every step k is its own sequence that encodes exactly C_k (real
patches plus CLS), Eq. 5 read literally and the released code's reading; all steps of the batch run
in one padded pass of gathered tokens. Steps whose target is empty are skipped, so the cost follows
the regions actually found: most images have one region at 14x14, which makes one step (the
background from R1) and a DSeq step about as cheap as an I-JEPA step.
Mode ``causal``: one pass per image over R1..R(N-1) in rank order with a block-causal mask (tokens of
Ri attend to R1..Ri; CLS is in the R1 block); in the predictor, step k's queries attend to R1..Rk
and to each other. Cheaper when images have several regions, but R1's tokens never see later regions,
a different model than Eq. 5. Both modes compute and show nothing of the hidden patches.

An image with no region at all contributes nothing to a DSeq step (``no_region='skip'``, the
default) or its I-JEPA prediction on its multi-block masks (``no_region='ijepa'``), pooled token by
token with the region steps; if no image of the batch has a region, the step is the I-JEPA step on
the batch's masks either way, on the targets of the same target pass.
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.registry import MODELS

from .ijepa import IJEPA, gather_tokens
from .masks import derive_seed
from .regions import select_regions

__all__ = ['DSeqJEPA', 'saliency_map', 'prefix_steps', 'causal_layout', 'curriculum_draw']

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
    return derive_seed(seed, step, _CURRICULUM_STREAM) * 2.0 ** -32


def _pack(keys: torch.Tensor, excluded: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per row, the positions of ``keys`` (S, P) in ascending key order, leaving out those equal to
    ``excluded`` and padded to the longest row: positions and validity, both (S, L)."""
    counts = (keys != excluded).sum(1)
    length = max(int(counts.max()), 1)
    order = torch.argsort(keys, dim=1, stable=True)[:, :length]
    return order, torch.arange(length, device=keys.device)[None] < counts[:, None]


def _raster(mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(S, P) bool -> raster-ordered indices of the True entries, padded, and their validity."""
    p = mask.shape[1]
    return _pack(torch.where(mask, torch.arange(p, device=mask.device), p), p)


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
    context, context_valid = _raster(contexts[image, k])
    target, target_valid = _raster(targets[image, k])
    return dict(image=image, k=k + 1, context=context, context_valid=context_valid, target=target,
                target_valid=target_valid)


def causal_layout(regions: torch.Tensor) -> Dict[str, torch.Tensor]:
    """One sequence per image for ``causal`` mode, from regions (B, N, P).

    Context tokens are the patches of R1..R(N-1) in rank order, queries those of R2..RN (step k
    queries R(k+1)); images without R1 have none. Returns their indices and validity, and the
    block-causal masks (True = attend): ``encoder_mask`` (B, 1 + Lc, 1 + Lc) with the CLS token in
    the R1 block, tokens of Ri attending to R1..Ri; ``predictor_mask`` (B, Lc + Lq, Lc + Lq) where
    context tokens attend causally to context tokens only and step k's queries attend to R1..Rk
    and to each other.
    """
    b, n, p = regions.shape
    rank = regions.to(torch.uint8).argmax(1)  # regions are disjoint and cover the grid
    index = torch.arange(p, device=regions.device)
    excluded = n * p
    key = rank.long() * p + index
    context, context_valid = _pack(torch.where(rank < n - 1, key, excluded), excluded)
    has_region = regions[:, 0].any(-1, keepdim=True)
    query, query_valid = _pack(torch.where((rank > 0) & has_region, key, excluded), excluded)
    ctx_rank = rank.gather(1, context).long()
    step = rank.gather(1, query).long()

    enc_rank = F.pad(ctx_rank, (1, 0))  # CLS: rank 0
    enc_valid = F.pad(context_valid, (1, 0), value=True)
    encoder_mask = enc_valid[:, None, :] & (enc_rank[:, None, :] <= enc_rank[:, :, None])

    lc, lq = context.shape[1], query.shape[1]
    ctx_ctx = context_valid[:, None, :] & (ctx_rank[:, None, :] <= ctx_rank[:, :, None])
    q_ctx = context_valid[:, None, :] & (ctx_rank[:, None, :] < step[:, :, None])
    q_q = query_valid[:, None, :] & (step[:, None, :] == step[:, :, None])
    predictor_mask = torch.cat([
        torch.cat([ctx_ctx, ctx_ctx.new_zeros(b, lc, lq)], dim=2),
        torch.cat([q_ctx, q_q], dim=2)], dim=1)
    # padded rows see themselves, so no row is empty (their outputs are never used)
    predictor_mask |= torch.eye(lc + lq, dtype=torch.bool, device=regions.device)
    return dict(context=context, context_valid=context_valid, query=query,
                query_valid=query_valid, step=step, encoder_mask=encoder_mask,
                predictor_mask=predictor_mask)


def _error_sum(pred: torch.Tensor, target: torch.Tensor,
               valid: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Smooth L1 (beta 1) of (..., L, D) predictions summed over the valid (..., L) tokens (all
    when None), and the number of elements summed: parts of one step pool by adding both."""
    error = F.smooth_l1_loss(pred.float(), target.float(), beta=1.0, reduction='none')
    if valid is None:
        return error.sum(), error.new_tensor(error.numel())
    error = torch.where(valid[..., None], error, 0.0)
    return error.sum(), valid.sum() * error.shape[-1]


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
        mode: ``'prefix'`` or ``'causal'`` (see the module's docstring).
        curriculum: DSeq step with probability t / T; False makes every step a DSeq step.
        seed: seeds the curriculum's draws.
        no_region: what an image without any region does in a DSeq step: ``'skip'`` (nothing)
            or ``'ijepa'`` (its I-JEPA prediction, pooled with the region steps' tokens).
    """

    def __init__(self, encoder: dict, predictor: dict, num_regions: int = 5,
                 min_area: float = 0.15, saliency_block: Optional[int] = None,
                 mode: str = 'prefix', curriculum: bool = True, seed: int = 0,
                 no_region: str = 'skip', **kwargs) -> None:
        if mode not in ('prefix', 'causal'):
            raise ValueError(f"mode must be 'prefix' or 'causal', got {mode!r}")
        if no_region not in ('skip', 'ijepa'):
            raise ValueError(f"no_region must be 'skip' or 'ijepa', got {no_region!r}")
        super().__init__(dict(encoder, use_cls_token=True), predictor, **kwargs)
        self.mode = mode
        depth = self.target_encoder.depth
        self.saliency_block = int(depth * 5 / 6) if saliency_block is None else saliency_block
        self.num_regions, self.min_area = num_regions, min_area
        self.curriculum, self.seed, self.no_region = curriculum, seed, no_region

    def use_dseq(self, step: int) -> bool:
        if not self.curriculum:
            return True
        hub = MessageHub.get_current_instance()
        fraction = hub.get_info('iter', 0) / max(hub.get_info('max_iters', 1), 1)
        return curriculum_draw(self.seed, step) < fraction

    @torch.no_grad()
    def target_pass(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One target-encoder pass: layer-normed targets (B, P, D) and saliency (B, h, w)."""
        enc = self.target_encoder
        tokens, grid = enc.patchify(images)
        out, (mid,) = enc.run_blocks(enc.add_prefix(tokens), grid, out_indices=[self.saliency_block])
        prefix = enc.num_prefix_tokens
        targets = enc.norm(out)[:, prefix:]
        targets = F.layer_norm(targets, targets.shape[-1:])
        with torch.autocast(images.device.type, enabled=False):  # regions from fp32 saliency
            saliency = saliency_map(mid[:, prefix:].float(), enc.norm, enc.cls_token[0, 0].float())
        return targets, saliency.view(-1, *grid)

    def targets_and_regions(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Layer-normed targets (B, P, D) and regions (B, N, P) from one target pass."""
        targets, saliency = self.target_pass(images)
        return targets, select_regions(saliency, self.num_regions, self.min_area)

    def loss(self, images: torch.Tensor, masks: dict) -> Dict[str, torch.Tensor]:
        """The loss, plus ``dseq`` (1 for a DSeq step) and the share of images without a region,
        for the log."""
        if not self.use_dseq(masks['step']):
            return dict(super().loss(images, masks), dseq=images.new_zeros(()))
        targets, regions = self.targets_and_regions(images)
        has_region = regions[:, 0].any(-1)
        stats = dict(dseq=images.new_ones(()), no_region=(~has_region).float().mean())
        parts = []
        if bool(has_region.any()):
            step_errors = self.prefix_errors if self.mode == 'prefix' else self.causal_errors
            parts.append(step_errors(images, targets, regions))
        if self.no_region == 'ijepa' or not parts:  # with no image to predict, the I-JEPA step
            rest = ~has_region
            if bool(rest.any()):
                parts.append(self.block_errors(images[rest], targets[rest], _select(masks, rest)))
        error, count = (sum(part) for part in zip(*parts))
        return dict(loss=error / count, **stats)

    def block_errors(self, images: torch.Tensor, targets: torch.Tensor,
                     masks: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The I-JEPA step's :func:`_error_sum` on given targets (B, P, D)."""
        return _error_sum(self.predict_blocks(images, masks),
                          gather_tokens(targets, masks['targets']))

    def prefix_forward(self, images: torch.Tensor,
                       steps: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Context outputs (S, Lc, D) and predictions (S, Lt, D) of the :func:`prefix_steps`."""
        context = self.encode_context(images, steps['context'], steps['context_valid'],
                                      steps['image'])
        pred = self.predictor(context, steps['context'], steps['context_valid'],
                              steps['target'][:, None], steps['target_valid'][:, None])[:, 0]
        return context, pred

    def causal_forward(self, images: torch.Tensor,
                       layout: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Context outputs (B, Lc, D) and predictions (B, Lq, D) of a :func:`causal_layout`."""
        enc = self.context_encoder
        context = enc.forward_features(images, layout['context'],
                                       attn_mask=layout['encoder_mask'][:, None])
        context = context[:, enc.num_prefix_tokens:]
        pred = self.predictor.predict(context, layout['context'], layout['query'],
                                      layout['predictor_mask'][:, None])
        return context, pred

    def prefix_errors(self, images: torch.Tensor, targets: torch.Tensor,
                      regions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Every step k re-encodes its own context C_k; all steps in one padded pass."""
        steps = prefix_steps(regions)
        _, pred = self.prefix_forward(images, steps)
        target = gather_tokens(targets[steps['image']], steps['target'])
        return _error_sum(pred, target, steps['target_valid'])

    def causal_errors(self, images: torch.Tensor, targets: torch.Tensor,
                      regions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One block-causal pass per image over its regions in rank order."""
        layout = causal_layout(regions)
        _, pred = self.causal_forward(images, layout)
        return _error_sum(pred, gather_tokens(targets, layout['query']), layout['query_valid'])
