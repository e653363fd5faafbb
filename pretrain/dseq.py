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
the batch's masks either way, on the targets of the same target pass. (Where the ablations can
leave an image R1 but no target, it counts as one without a region.)

The paper's ablations are switches of :class:`DSeqJEPA`, each defaulting to the paper's setting
(the defaults compute exactly the model above); the region switches live in
:mod:`pretrain.ablations`:

* ``regions``: ``'saliency'`` | ``'uniform'`` (random blocks of the multi-block sampler's target
  size, :func:`~pretrain.ablations.uniform_regions`; no saliency is computed);
* ``prediction``: ``'sequential'`` | ``'flat'`` (R2..RN together from R1 in one step,
  :class:`~pretrain.sequence.FlatSequence`; ``mode`` does not matter then);
* ``order``: ``'rank'`` | ``'random'`` | ``'spatial'`` | ``'inverse'``
  (:func:`~pretrain.ablations.order_regions`; the background stays last);
* ``top_k``: None | k, "top-3 only": R1..Rk only, no background target
  (:func:`~pretrain.ablations.top_regions`);
* ``num_regions``: N (3, 5, 7);
* ``saliency``: ``'cls'`` (:func:`saliency_map`) | ``'gradcam'`` (:func:`gradcam_saliency`);
* ``curriculum``: ``'per_step'`` (:func:`is_dseq_step`) | ``'per_region'`` (every step a DSeq
  step, each region kept with probability lambda, else a random rectangle,
  :func:`~pretrain.ablations.per_region_curriculum`) | ``'off'`` (every step a DSeq step).
"""
import math
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmengine.dist import get_rank
from mmengine.registry import MODELS

from backbones.vit import VisionTransformer, patch_grid
from .ablations import (CURRICULA, ORDERS, PREDICTIONS, REGION_SOURCES, SALIENCIES, check_choice,
                        order_regions, per_region_curriculum, top_regions, uniform_regions)
from .ijepa import IJEPA
from .jepa import gather_tokens, layer_norm_targets, smooth_l1_sum
from .masks import MultiBlockMaskSampler
from .regions import check_min_area, select_regions
from .seeds import CURRICULUM_STREAM, derive_seed
from .sequence import SEQUENCE_MODES, FlatSequence, region_sizes, sequence_errors, true_positions

__all__ = ['DSeqJEPA', 'SALIENCY_METHODS', 'saliency_map', 'gradcam_saliency', 'encoder_saliency',
           'curriculum_draw', 'is_dseq_step']


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


def gradcam_saliency(tokens: torch.Tensor, norm: torch.nn.Module,
                     query: torch.Tensor) -> torch.Tensor:
    """Grad-CAM in place of the CLS map (``saliency='gradcam'``), min-max normalised per image.

    The score is the CLS-query score of :func:`saliency_map` summed over the image's patches,
    y = sum_j <q, LN(z_j)> / sqrt(D); the channel weights are its gradient with respect to the
    block's patch tokens z, averaged over the patches, w_c = mean_j dy / dz_jc, and the map is
    ReLU(sum_c w_c z_jc). The gradient is taken with :func:`torch.autograd.grad` on a detached copy
    of the tokens only, so no parameter's ``.grad`` is touched, also under ``torch.no_grad()``;
    the arguments are those of :func:`saliency_map` (give them in fp32).
    """
    with torch.enable_grad():
        z = tokens.detach().requires_grad_(True)
        score = (norm(z) @ query).sum() / math.sqrt(z.shape[-1])
        grad, = torch.autograd.grad(score, z)
    cam = torch.relu((tokens.detach() * grad.mean(1, keepdim=True)).sum(-1))
    lo = cam.min(1, keepdim=True).values
    hi = cam.max(1, keepdim=True).values
    return (cam - lo) / (hi - lo + 1e-6)


@torch.no_grad()
def encoder_saliency(encoder: VisionTransformer, images: torch.Tensor, block: int,
                     method: Callable[..., torch.Tensor] = saliency_map
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The saliency (B, h, w) of ``images`` at ``block`` of ``encoder`` (``method``,
    :func:`saliency_map` or :func:`gradcam_saliency`, in fp32), and the final tokens
    (B, prefix + N, D) of the same pass, from which the targets come."""
    final, (tokens,) = encoder.forward_intermediates(images, [block], output_fmt='NLC')
    with torch.autocast(images.device.type, enabled=False):  # regions from fp32 saliency
        saliency = method(tokens.float(), encoder.norm, encoder.cls_token[0, 0].float())
    grid = patch_grid(tuple(images.shape[-2:]), encoder.patch_size, 'the input')
    return final, saliency.view(-1, *grid)


def curriculum_draw(seed: int, step: int) -> float:
    """The uniform number in [0, 1) that decides step ``step``: the same on every rank and
    resume."""
    return derive_seed(seed, step, CURRICULUM_STREAM) * 2.0 ** -32


def is_dseq_step(seed: int, step: int, progress: float) -> bool:
    """The curriculum: step ``step`` is a DSeq step with probability ``progress`` (t / T)."""
    return curriculum_draw(seed, step) < progress


def _select(masks: Dict[str, torch.Tensor], rows: torch.Tensor,
            host_rows: List[int]) -> Dict[str, torch.Tensor]:
    """The multi-block masks of the images ``rows`` (S,) of a batch, ``host_rows`` on the host."""
    valid, lengths = masks['context_valid'], masks.get('context_lengths')
    return dict(context=masks['context'][rows], targets=masks['targets'][rows],
                context_valid=None if valid is None else valid[rows],
                context_lengths=None if lengths is None else [lengths[i] for i in host_rows])


#: the saliency function of each ``saliency`` choice
SALIENCY_METHODS = {'cls': saliency_map, 'gradcam': gradcam_saliency}
_LEGACY_CURRICULUM = {True: 'per_step', False: 'off'}  # the former bool spelling


@MODELS.register_module()
class DSeqJEPA(IJEPA):
    """DSeq-JEPA on the I-JEPA model, with a CLS token.

    Args:
        num_regions, min_area: region selection (N = 5, 15% of the grid).
        saliency_block: block whose outputs give the saliency (default: int(depth * 5 / 6), i.e.
            10 of 12, 20 of 24, 26 of 32).
        mode: a :data:`~pretrain.sequence.SEQUENCE_MODES` name, ``'prefix'`` or ``'causal'``.
        curriculum: ``'per_step'``: a DSeq step with probability t / T, else an I-JEPA step
            (:func:`is_dseq_step`); ``'per_region'``: every step a DSeq step, each region kept
            with probability t / T, else a random rectangle
            (:func:`~pretrain.ablations.per_region_curriculum`); ``'off'``: every step a DSeq
            step. True / False, the former spelling, read as ``'per_step'`` / ``'off'``.
        seed: seeds the curriculum's and the ablations' draws.
        no_region: what an image without any region does in a DSeq step: ``'skip'`` (nothing)
            or ``'ijepa'`` (its I-JEPA prediction, pooled with the region steps' tokens).
        regions: ``'saliency'``: the Otsu regions of the saliency; ``'uniform'``: random blocks
            of the multi-block sampler's target size, the saliency never computed
            (:func:`~pretrain.ablations.uniform_regions`).
        prediction: ``'sequential'``: R(k+1) from C_k, k = 1..N-1; ``'flat'``: R2..RN from R1 in
            one step (:class:`~pretrain.sequence.FlatSequence`; ``mode`` is then unused).
        order: the sequence order of R1..R(N-1) (:func:`~pretrain.ablations.order_regions`):
            ``'rank'`` (descending mean saliency), ``'random'``, ``'spatial'`` or ``'inverse'``.
        top_k: None, or k in [2, N - 1]: only R1..Rk of the order are used, the rest and the
            background are not targets (:func:`~pretrain.ablations.top_regions`).
        saliency: ``'cls'`` (:func:`saliency_map`) or ``'gradcam'`` (:func:`gradcam_saliency`).
    """

    def __init__(self, encoder: dict, predictor: dict, num_regions: int = 5,
                 min_area: float = 0.15, saliency_block: Optional[int] = None,
                 mode: str = 'prefix', curriculum: Union[str, bool] = 'per_step', seed: int = 0,
                 no_region: str = 'skip', regions: str = 'saliency',
                 prediction: str = 'sequential', order: str = 'rank',
                 top_k: Optional[int] = None, saliency: str = 'cls', **kwargs) -> None:
        if mode not in SEQUENCE_MODES:
            raise ValueError(f'mode must be one of {sorted(SEQUENCE_MODES.module_dict)}, '
                             f'got {mode!r}')
        if no_region not in ('skip', 'ijepa'):
            raise ValueError(f"no_region must be 'skip' or 'ijepa', got {no_region!r}")
        if isinstance(curriculum, bool):
            curriculum = _LEGACY_CURRICULUM[curriculum]
        for name, value, allowed in (('curriculum', curriculum, CURRICULA),
                                     ('regions', regions, REGION_SOURCES),
                                     ('prediction', prediction, PREDICTIONS),
                                     ('order', order, ORDERS), ('saliency', saliency, SALIENCIES)):
            check_choice(name, value, allowed)
        if isinstance(num_regions, bool) or not isinstance(num_regions, int) or num_regions < 2:
            raise ValueError(f'num_regions must be an int of at least 2, got {num_regions!r}')
        check_min_area(min_area)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or not 2 <= top_k <= num_regions - 1):
            raise ValueError(f'top_k must be None or an int in [2, num_regions - 1 = '
                             f'{num_regions - 1}], got {top_k!r}')
        super().__init__(dict(encoder, use_cls_token=True), predictor, **kwargs)
        self.mode = mode
        self.sequence = (FlatSequence() if prediction == 'flat' else
                         SEQUENCE_MODES.build(dict(type=mode)))
        depth = self.target_encoder.depth
        self.saliency_block = int(depth * 5 / 6) if saliency_block is None else saliency_block
        self.num_regions, self.min_area = num_regions, min_area
        self.curriculum, self.seed, self.no_region = curriculum, seed, no_region
        self.region_source, self.prediction, self.order = regions, prediction, order
        self.top_k, self.saliency = top_k, saliency
        # whether an image with R1 can have no target: then it counts as one without a region
        self.may_lack_targets = (top_k is not None or curriculum == 'per_region'
                                 or regions == 'uniform')
        enc = self.target_encoder
        # the multi-block sampler's target sizes, for uniform regions (a square grid, as the masks')
        self.block_sampler = MultiBlockMaskSampler(
            input_size=enc.grid_size[0] * enc.patch_size, patch_size=enc.patch_size)

    @torch.no_grad()
    def targets_and_regions(self, images: torch.Tensor,
                            step: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
        """Layer-normed targets (B, P, D) and regions (B, N, P) from one target-encoder pass, in
        the sequence order; ``step`` seeds the ablations' draws (none by default)."""
        enc = self.target_encoder
        if self.region_source == 'uniform':  # the saliency is never computed
            targets = self.target_tokens(images)
            regions = uniform_regions(self.block_sampler, len(images), self.num_regions,
                                      self.seed, step, get_rank()).to(images.device,
                                                                      non_blocking=True)
        else:
            final, saliency = encoder_saliency(enc, images, self.saliency_block,
                                               SALIENCY_METHODS[self.saliency])
            targets = layer_norm_targets(final[:, enc.num_prefix_tokens:])
            regions = select_regions(saliency, self.num_regions, self.min_area)
        return targets, self.arrange_regions(regions, step)

    def arrange_regions(self, regions: torch.Tensor, step: int) -> torch.Tensor:
        """The ablations on found regions (B, N, P), in this order: the per-region curriculum,
        the sequence order, top-k. The defaults return ``regions`` itself."""
        if self.curriculum == 'per_region':
            regions = per_region_curriculum(regions, self.progress, self.target_encoder.grid_size,
                                            self.seed, step, get_rank())[0]
        if self.order != 'rank':
            regions = order_regions(regions, self.order, self.seed, step, get_rank())
        return top_regions(regions, self.top_k)

    def loss(self, images: torch.Tensor, masks: dict) -> Dict[str, torch.Tensor]:
        """The loss, plus ``dseq`` (1 for a DSeq step) and the share of images without a region,
        for the log."""
        if self.curriculum == 'per_step' and not is_dseq_step(self.seed, masks['step'],
                                                              self.progress):
            return dict(super().loss(images, masks), dseq=images.new_zeros(()))
        targets, regions = self.targets_and_regions(images, masks['step'])
        has_region = regions[:, 0].any(-1)
        if self.may_lack_targets:  # saliency regions always leave a background to predict
            has_region = has_region & regions[:, 1:].any(-1).any(-1)
        stats = dict(dseq=images.new_ones(()), no_region=(~has_region).float().mean())
        sizes = region_sizes(regions)  # the step's one wait for the device: shapes follow from it
        without = [i for i, size in enumerate(sizes)
                   if not size[0] or (self.may_lack_targets and not any(size[1:]))]
        parts = []
        if len(without) < len(sizes):
            parts.append(sequence_errors(self, images, targets, regions, self.sequence, sizes))
        if (self.no_region == 'ijepa' or not parts) and without:  # else nothing to predict: I-JEPA
            rest = true_positions(~has_region, len(without))
            parts.append(self.block_errors(images[rest], targets[rest],
                                           _select(masks, rest, without)))
        error, count = (sum(part) for part in zip(*parts))
        return dict(loss=error / count, **stats)

    def block_errors(self, images: torch.Tensor, targets: torch.Tensor,
                     masks: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The I-JEPA step's :func:`~pretrain.jepa.smooth_l1_sum` on given targets (B, P, D)."""
        return smooth_l1_sum(self.predict_blocks(images, masks),
                             gather_tokens(targets, masks['targets']))
