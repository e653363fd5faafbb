"""DSeq-JEPA's sequence: ranked regions predicted one after another (SPEC section 3).

Given regions R1..RN (B, N, P) of a batch, step k predicts R(k+1) from the context
C_k = R1 u ... u Rk, k = 1..N-1. :func:`sequence_errors` is the one entry point; how the steps are
laid out and encoded is a :class:`SequenceMode`, registered by name in :data:`SEQUENCE_MODES`:

* ``prefix`` (the default): every step k is its own sequence that encodes exactly C_k (real patches
  plus CLS), Eq. 5 read literally and the released code's reading; all steps of the batch run in one
  padded pass of gathered tokens. Steps whose target is empty are skipped, so the cost follows the
  regions actually found: most images have one region at 14x14, which makes one step (the
  background from R1) and a DSeq step about as cheap as an I-JEPA step.
* ``causal``: one pass per image over R1..R(N-1) in rank order with a block-causal mask (tokens of
  Ri attend to R1..Ri; CLS is in the R1 block); in the predictor, step k's queries attend to R1..Rk
  and to each other. Cheaper when images have several regions, but R1's tokens never see later
  regions, a different model than Eq. 5.

Both modes compute and show nothing of the hidden patches. Regions need not cover the grid (with
``top_k`` they do not): a patch in no region is neither context nor target.

The shapes of a layout (how many steps, how long each context and target is) depend on the regions,
so the host must know them; since regions are disjoint, they all follow from the region sizes, which
a step reads back from the device once (:func:`region_sizes`) and hands to the layout: a DSeq step
waits for the device there and nowhere else.

:class:`FlatSequence` (``prediction='flat'``, the ablation) is not a mode: one step per image
predicts R2..RN together from R1 (:func:`flat_steps`), so there is no sequence to lay out and the
mode does not matter.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import Registry

from .jepa import JEPAModel, gather_tokens, smooth_l1_sum

__all__ = ['SEQUENCE_MODES', 'SequenceMode', 'PrefixSequence', 'CausalSequence', 'FlatSequence',
           'region_sizes', 'true_positions', 'prefix_steps', 'causal_layout', 'flat_steps',
           'sequence_errors']

SEQUENCE_MODES = Registry('DSeq-JEPA sequence mode')


def region_sizes(regions: torch.Tensor) -> List[List[int]]:
    """The number of patches of each region of (B, N, P) disjoint regions, as host integers: the
    one read back from the device of a DSeq step."""
    return regions.sum(-1).tolist()


def _pack(keys: torch.Tensor, excluded: int, longest: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per row, the positions of ``keys`` (S, P) in ascending key order, leaving out those equal to
    ``excluded``, padded to ``longest`` (the most any row keeps, known on the host): positions and
    validity, both (S, max(longest, 1))."""
    counts = (keys != excluded).sum(1)
    length = max(longest, 1)
    order = torch.argsort(keys, dim=1, stable=True)[:, :length]
    return order, torch.arange(length, device=keys.device)[None] < counts[:, None]


def _raster(mask: torch.Tensor, longest: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(S, P) bool -> raster-ordered indices of the True entries, padded to ``longest``, and their
    validity."""
    p = mask.shape[1]
    return _pack(torch.where(mask, torch.arange(p, device=mask.device), p), p, longest)


def true_positions(keep: torch.Tensor, count: int) -> torch.Tensor:
    """The positions of the ``count`` True entries of ``keep`` (1-D), in order, without reading
    ``keep`` back (``count`` comes from the region sizes, on the host)."""
    return keep.nonzero_static(size=count)[:, 0]


def prefix_steps(regions: torch.Tensor,
                 sizes: Optional[List[List[int]]] = None) -> Dict[str, torch.Tensor]:
    """The prediction steps of a batch of regions (B, N, P) in prefix mode.

    Step k of image b has context C_k = R1 u ... u Rk and target R(k+1), k = 1..N-1; steps with an
    empty context or target are left out. Returns ``image`` (S,) and ``k`` (S,) of the kept steps,
    their ``context`` / ``context_valid`` and ``target`` / ``target_valid`` index rows, and their
    lengths on the host, ``context_lengths`` (S) and ``target_lengths`` (S lists of one).
    ``sizes``: :func:`region_sizes` of ``regions``, read back here when not given.
    """
    sizes = region_sizes(regions) if sizes is None else sizes
    contexts = regions[:, :-1].cumsum(1) > 0
    targets = regions[:, 1:]
    steps = [(sum(size[:k]), size[k]) for size in sizes for k in range(1, len(size))]
    kept = [(c, t) for c, t in steps if c and t]
    context_lengths = [c for c, _ in kept]
    target_lengths = [[t] for _, t in kept]
    flat = true_positions((contexts.any(-1) & targets.any(-1)).flatten(), len(kept))
    image, k = flat.div(targets.shape[1], rounding_mode='floor'), flat % targets.shape[1]
    context, context_valid = _raster(contexts[image, k], max(context_lengths, default=0))
    target, target_valid = _raster(targets[image, k], max((t for _, t in kept), default=0))
    return dict(image=image, k=k + 1, context=context, context_valid=context_valid, target=target,
                target_valid=target_valid, context_lengths=context_lengths,
                target_lengths=target_lengths)


def causal_layout(regions: torch.Tensor,
                  sizes: Optional[List[List[int]]] = None) -> Dict[str, torch.Tensor]:
    """One sequence per image for ``causal`` mode, from regions (B, N, P) (``sizes``: as in
    :func:`prefix_steps`).

    Context tokens are the patches of R1..R(N-1) in rank order, targets (the predictor's queries)
    those of R2..RN, ``step`` k for a target in R(k+1); images without R1 have none. Returns their
    indices and validity, and the block-causal masks (True = attend): ``encoder_mask``
    (B, 1 + Lc, 1 + Lc) with the CLS token in the R1 block, tokens of Ri attending to R1..Ri;
    ``predictor_mask`` (B, Lc + Lt, Lc + Lt) where context tokens attend causally to context tokens
    only and step k's queries attend to R1..Rk and to each other.
    """
    b, n, p = regions.shape
    sizes = region_sizes(regions) if sizes is None else sizes
    longest_context = max(sum(size[:-1]) for size in sizes)
    longest_target = max(sum(size[1:]) if size[0] else 0 for size in sizes)
    rank = regions.to(torch.uint8).argmax(1)  # regions are disjoint
    covered = regions.any(1)  # False only where the regions do not cover the grid (top_k)
    index = torch.arange(p, device=regions.device)
    excluded = n * p
    key = rank.long() * p + index
    context, context_valid = _pack(torch.where((rank < n - 1) & covered, key, excluded), excluded,
                                   longest_context)
    has_region = regions[:, 0].any(-1, keepdim=True)
    target, target_valid = _pack(torch.where((rank > 0) & has_region & covered, key, excluded),
                                 excluded, longest_target)
    ctx_rank = rank.gather(1, context).long()
    step = rank.gather(1, target).long()

    enc_rank = F.pad(ctx_rank, (1, 0))  # CLS: rank 0
    enc_valid = F.pad(context_valid, (1, 0), value=True)
    encoder_mask = enc_valid[:, None, :] & (enc_rank[:, None, :] <= enc_rank[:, :, None])

    lc, lt = context.shape[1], target.shape[1]
    ctx_ctx = context_valid[:, None, :] & (ctx_rank[:, None, :] <= ctx_rank[:, :, None])
    q_ctx = context_valid[:, None, :] & (ctx_rank[:, None, :] < step[:, :, None])
    q_q = target_valid[:, None, :] & (step[:, None, :] == step[:, :, None])
    predictor_mask = torch.cat([
        torch.cat([ctx_ctx, ctx_ctx.new_zeros(b, lc, lt)], dim=2),
        torch.cat([q_ctx, q_q], dim=2)], dim=1)
    # padded rows see themselves, so no row is empty (their outputs are never used)
    predictor_mask |= torch.eye(lc + lt, dtype=torch.bool, device=regions.device)
    return dict(context=context, context_valid=context_valid, target=target,
                target_valid=target_valid, step=step, encoder_mask=encoder_mask,
                predictor_mask=predictor_mask)


def _predict_groups(model: JEPAModel, images: torch.Tensor, layout: Dict[str, torch.Tensor],
                    target: torch.Tensor,
                    target_valid: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each sequence's context (``layout``'s ``context`` of ``image``) encoded on its own, and its
    query groups ``target`` / ``target_valid`` (S, M, Lt) predicted from it: context outputs
    (S, Lc, D) and predictions (S, M, Lt, D). The layout's host lengths spare packing its reads."""
    lengths = layout['context_lengths']
    context = model.encode_context(images, layout['context'], layout['context_valid'],
                                   layout['image'], keep_lengths=lengths)
    return context, model.predictor(context, layout['context'], layout['context_valid'],
                                    target, target_valid, context_lengths=lengths,
                                    target_lengths=layout['target_lengths'])


class SequenceMode:
    """How the steps of a batch are laid out (:meth:`layout`) and encoded (:meth:`forward`).

    A layout holds ``target`` / ``target_valid``, the patches each sequence predicts, and ``image``
    (S,), the image of each sequence, where sequences are not one per image.
    """

    def layout(self, regions: torch.Tensor,
               sizes: Optional[List[List[int]]] = None) -> Dict[str, torch.Tensor]:
        """The layout of regions (B, N, P) whose :func:`region_sizes` are ``sizes``."""
        raise NotImplementedError

    def forward(self, model: JEPAModel, images: torch.Tensor,
                layout: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Context-encoder outputs (S, Lc, D) and predictions (S, Lt, D) of a layout."""
        raise NotImplementedError


@SEQUENCE_MODES.register_module('prefix')
class PrefixSequence(SequenceMode):
    """Every step re-encodes its own context C_k; all steps in one padded pass."""

    layout = staticmethod(prefix_steps)

    def forward(self, model: JEPAModel, images: torch.Tensor,
                layout: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        context, pred = _predict_groups(model, images, layout, layout['target'][:, None],
                                        layout['target_valid'][:, None])
        return context, pred[:, 0]


@SEQUENCE_MODES.register_module('causal')
class CausalSequence(SequenceMode):
    """One block-causal pass per image over its regions in rank order."""

    layout = staticmethod(causal_layout)

    def forward(self, model: JEPAModel, images: torch.Tensor,
                layout: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        context = model.encode_context(images, layout['context'],
                                       attn_mask=layout['encoder_mask'][:, None])
        pred = model.predictor.predict(context, layout['context'], layout['target'],
                                       layout['predictor_mask'][:, None])
        return context, pred


def flat_steps(regions: torch.Tensor,
               sizes: Optional[List[List[int]]] = None) -> Dict[str, torch.Tensor]:
    """The one prediction step per image of ``prediction='flat'``, from regions (B, N, P)
    (``sizes``: as in :func:`prefix_steps`).

    The context is R1 and the targets R2..RN, all predicted at once by one predictor call, each
    region in its own query group (its queries see the context and each other, never another
    region's, as I-JEPA's target blocks): ``target`` / ``target_valid`` are (S, M, Lt), the
    non-empty target regions of each image first, M the most any image has. Images without R1 or
    without any target are left out. Returns ``image`` (S,), ``k`` (S,) ones, ``context`` /
    ``context_valid`` (S, Lc), the targets and the host lengths (as :func:`prefix_steps`).
    """
    b, n, p = regions.shape
    sizes = region_sizes(regions) if sizes is None else sizes
    kept = [(size[0], [t for t in size[1:] if t]) for size in sizes if size[0] and any(size[1:])]
    m = max([len(ts) for _, ts in kept] + [1])
    targets = regions[:, 1:]
    present = targets.any(-1)
    image = true_positions(regions[:, 0].any(-1) & present.any(-1), len(kept))
    context_lengths = [c for c, _ in kept]
    context, context_valid = _raster(regions[image, 0], max(context_lengths, default=0))
    present = present[image]
    first = torch.argsort((~present).to(torch.uint8), dim=1, stable=True)[:, :m]  # non-empty first
    chosen = targets[image].gather(1, first[..., None].expand(-1, -1, p))
    target_lengths = [ts + [0] * (m - len(ts)) for _, ts in kept]
    target, target_valid = _raster(chosen.flatten(0, 1),
                                   max((t for _, ts in kept for t in ts), default=0))
    s = len(kept)
    return dict(image=image, k=torch.ones_like(image), context=context,
                context_valid=context_valid, target=target.view(s, m, -1),
                target_valid=target_valid.view(s, m, -1), context_lengths=context_lengths,
                target_lengths=target_lengths)


class FlatSequence(SequenceMode):
    """``prediction='flat'``: one context R1 per image, encoded once, and one predictor call for
    all of R2..RN (:func:`flat_steps`)."""

    layout = staticmethod(flat_steps)

    def forward(self, model: JEPAModel, images: torch.Tensor,
                layout: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        return _predict_groups(model, images, layout, layout['target'], layout['target_valid'])


def sequence_errors(model: JEPAModel, images: torch.Tensor, targets: torch.Tensor,
                    regions: torch.Tensor, mode: SequenceMode,
                    sizes: Optional[List[List[int]]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """The sequential prediction of a batch: :func:`~pretrain.jepa.smooth_l1_sum` of the
    predictions of every step against the layer-normed ``targets`` (B, P, D) of its target region
    (``sizes``: :func:`region_sizes` of ``regions``, read back when not given).
    """
    layout = mode.layout(regions, sizes)
    _, pred = mode.forward(model, images, layout)
    image = layout.get('image')
    target = gather_tokens(targets if image is None else targets[image], layout['target'])
    return smooth_l1_sum(pred, target, layout['target_valid'])
