"""I-JEPA multi-block masks, drawn in the data-loading workers from a seed fixed by the step.

Per batch, one target size and one context size are drawn (a single uniform number sets both the
scale and the aspect ratio of a block); per image, 4 target blocks and 1 context block are placed
and the targets are removed from the context. The draw depends only on ``(seed, step)`` for the
sizes and ``(seed, step, rank)`` for the positions (:mod:`pretrain.seeds`), so every rank agrees on
the shapes of a step and a resumed run draws exactly the masks it would have drawn.

Default mode fixes two behaviours of the released sampler, whose geometry ``compat=True`` reproduces
(the release draws positions from the global RNG; here they follow the seeded stream):

* the top-left corner is drawn from ``[0, H - h]`` inclusive, so every patch can be chosen (the
  release draws from ``[0, H - h)``: at 224/16 its context is always the 13x13 top-left block and
  the last patch row and column are never used);
* contexts of different lengths are kept whole: they are padded to the longest one of the batch and
  a boolean ``context_valid`` marks the real entries (the release truncates every context to the
  batch's shortest, silently dropping patches). The encoder and the predictor pack the real entries
  and never compute the padding (:mod:`backbones.packed`), so every context is encoded exactly as
  if it were alone.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.registry import FUNCTIONS

from backbones.vit import patch_grid
from .seeds import process_rank, seeded_generator

__all__ = ['MultiBlockMaskSampler', 'multiblock_collate']


class MultiBlockMaskSampler:
    """Context and target patch indices for a batch (SPEC section 2).

    Args:
        input_size, patch_size: image and patch side; the patch grid is their ratio.
        num_targets: target blocks per image.
        target_scale, target_aspect: fraction of the grid and h/w ratio range of target blocks.
        context_scale, context_aspect: the same for the context block.
        min_keep: a context is valid only with more than this many patches.
        compat: reproduce the released sampler (exclusive corner bound, truncated contexts).
        max_tries: context placements tried before one target's exclusion is relaxed.
    """

    def __init__(self, input_size: int = 224, patch_size: int = 16, num_targets: int = 4,
                 target_scale: Tuple[float, float] = (0.15, 0.2),
                 target_aspect: Tuple[float, float] = (0.75, 1.5),
                 context_scale: Tuple[float, float] = (0.85, 1.0),
                 context_aspect: Tuple[float, float] = (1.0, 1.0), min_keep: int = 10,
                 compat: bool = False, max_tries: int = 20) -> None:
        self.grid = patch_grid((input_size, input_size), patch_size, 'the masks\' input_size')
        self.num_targets = num_targets
        self.target_scale, self.target_aspect = target_scale, target_aspect
        self.context_scale, self.context_aspect = context_scale, context_aspect
        self.min_keep = min_keep
        self.compat = compat
        self.max_tries = max_tries

    def block_size(self, g: torch.Generator, scale: Sequence[float],
                   aspect: Sequence[float]) -> Tuple[int, int]:
        """(h, w) of a block: n = int(H*W*scale) patches at ratio h/w = aspect, kept below the
        grid."""
        rows, cols = self.grid
        u = torch.rand(1, generator=g).item()
        n = int(rows * cols * (scale[0] + u * (scale[1] - scale[0])))
        ratio = aspect[0] + u * (aspect[1] - aspect[0])
        h, w = int(round(math.sqrt(n * ratio))), int(round(math.sqrt(n / ratio)))
        return min(h, rows - 1), min(w, cols - 1)

    def _block(self, g: torch.Generator, size: Tuple[int, int]) -> torch.Tensor:
        (rows, cols), (h, w) = self.grid, size
        span = 0 if self.compat else 1  # the released bound excludes the last valid corner
        top = int(torch.randint(0, rows - h + span, (1,), generator=g))
        left = int(torch.randint(0, cols - w + span, (1,), generator=g))
        mask = torch.zeros(rows, cols, dtype=torch.bool)
        mask[top:top + h, left:left + w] = True
        return mask

    def _image_masks(self, g: torch.Generator, target_size: Tuple[int, int],
                     context_size: Tuple[int, int]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        targets = [self._block(g, target_size) for _ in range(self.num_targets)]
        excluded = len(targets)
        while True:
            keep_out = torch.zeros(self.grid, dtype=torch.bool)
            for t in targets[:excluded]:
                keep_out |= t
            for _ in range(self.max_tries):
                context = self._block(g, context_size) & ~keep_out
                if int(context.sum()) > self.min_keep:
                    return context.flatten().nonzero().squeeze(1), [
                        t.flatten().nonzero().squeeze(1) for t in targets]
            if excluded == 0:
                raise RuntimeError(f'no context with more than {self.min_keep} patches fits a '
                                   f'{context_size} block on a {self.grid} grid')
            excluded -= 1  # relax: let the context overlap one more target

    def __call__(self, batch_size: int, step: int, seed: int = 0,
                 rank: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """Masks of one batch.

        Returns:
            ``context`` (B, Lc) patch indices in raster order, ``context_valid`` (B, Lc) bool, False
            on padding (None when no context is padded), ``context_lengths``, the real entries of
            each context row as a tuple of ints (they stay on the host, so that packing the
            contexts on the device need not read them back), ``targets`` (B, num_targets, Lt)
            indices.
        """
        sizes = seeded_generator(seed, step)
        target_size = self.block_size(sizes, self.target_scale, self.target_aspect)
        if target_size[0] * target_size[1] <= self.min_keep:  # SPEC: a valid mask has more
            raise ValueError(
                f'target blocks of {target_size[0]}x{target_size[1]} patches on a {self.grid} grid '
                f'do not hold more than min_keep={self.min_keep} patches: raise target_scale '
                f'{self.target_scale} or the input size, or lower min_keep')
        context_size = self.block_size(sizes, self.context_scale, self.context_aspect)
        g = seeded_generator(seed, step, process_rank() if rank is None else rank)
        contexts, targets = zip(*(self._image_masks(g, target_size, context_size)
                                  for _ in range(batch_size)))
        lengths = tuple(len(c) for c in contexts)
        valid = None
        if self.compat or len(set(lengths)) == 1:
            lengths = (min(lengths),) * batch_size
            context = torch.stack([c[:lengths[0]] for c in contexts])
        else:
            context = torch.zeros(batch_size, max(lengths), dtype=torch.long)
            valid = torch.arange(context.shape[1])[None] < torch.tensor(lengths)[:, None]
            for i, c in enumerate(contexts):
                context[i, :len(c)] = c
        return dict(context=context, context_valid=valid, context_lengths=lengths,
                    targets=torch.stack([torch.stack(t) for t in targets]))


@FUNCTIONS.register_module()
def multiblock_collate(samples: List[dict], seed: int = 0, **sampler_cfg) -> dict:
    """Stack the images of a batch and draw its masks (the ``collate_fn`` of pretraining configs).
    A batch with JPEGs left encoded (:class:`~pretrain.device_decode.EncodedCrop`) keeps its images
    in a list, which :class:`~pretrain.device_decode.DecodingDataPreprocessor` decodes.

    Every sample carries the training ``step`` that the batch sampler tagged it with.
    """
    steps = {s['step'] for s in samples}
    if len(steps) != 1 or None in steps:
        raise ValueError(f'a pretraining batch needs one training step in its samples, got '
                         f"{steps}; use batch_sampler=dict(type='StepBatchSampler')")
    step = steps.pop()
    masks = MultiBlockMaskSampler(**sampler_cfg)(len(samples), step, seed)
    masks['step'] = step
    masks['skipped'] = [path for s in samples for path in s['skipped']]
    images = [s['img'] for s in samples]
    if all(isinstance(img, torch.Tensor) for img in images):
        images = torch.stack(images)  # else some are left encoded, for the data preprocessor
    return dict(inputs=images, data_samples=masks)
