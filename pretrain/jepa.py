"""What every JEPA method shares: context encoder, EMA target encoder, predictor, loss, EMA update.

A method subclasses :class:`JEPAModel` and implements ``loss(images, masks)``; everything else
(the optimiser, schedules, logging, checkpoints, distribution) comes from mmengine and the config.
A non-finite loss is kept from the weights by the optim wrapper
(:class:`~pretrain.optim.BF16OptimWrapper`), on the device.
"""
import copy
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from backbones.vit import VisionTransformer
from .predictor import Predictor

__all__ = ['JEPAModel', 'smooth_l1', 'smooth_l1_sum', 'layer_norm_targets', 'gather_tokens',
           'ema_momentum']


def smooth_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The JEPA loss: smooth L1 (beta 1), mean over every element of every target."""
    return F.smooth_l1_loss(pred.float(), target.float(), beta=1.0)


def smooth_l1_sum(pred: torch.Tensor, target: torch.Tensor,
                  valid: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Smooth L1 (beta 1) of (..., L, D) predictions summed over the valid (..., L) tokens (all
    when None), and the number of elements summed: parts of one step pool by adding both."""
    error = F.smooth_l1_loss(pred.float(), target.float(), beta=1.0, reduction='none')
    if valid is None:
        return error.sum(), error.new_tensor(error.numel())
    error = torch.where(valid[..., None], error, 0.0)
    return error.sum(), valid.sum() * error.shape[-1]


def layer_norm_targets(tokens: torch.Tensor) -> torch.Tensor:
    """Targets are the target encoder's outputs layer-normed once more, without parameters."""
    return F.layer_norm(tokens, tokens.shape[-1:])


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens (B, N, D), index (B, ...) -> (B, ..., D)."""
    b, d = tokens.shape[0], tokens.shape[-1]
    flat = index.reshape(b, -1)
    return torch.gather(tokens, 1, flat[..., None].expand(-1, -1, d)).view(*index.shape, d)


def ema_momentum(step: int, total: int, start: float, end: float) -> float:
    """Linear momentum from ``start`` at step 0 towards ``end`` at step ``total``."""
    return start + (end - start) * step / total


class JEPAModel(BaseModel):
    """Context encoder, its EMA copy as target encoder, and a predictor.

    Training progress (step t of T) reaches the model in one way, :meth:`set_progress`, which
    :class:`~pretrain.hooks.TrainingProgressHook` calls before every iteration; the EMA momentum
    (:meth:`momentum`) and DSeq-JEPA's curriculum read it, so the model computes the same inside and
    outside a Runner.

    Args:
        encoder: :class:`~backbones.vit.VisionTransformer` arguments; ``img_size`` sets the grid.
        predictor: :class:`Predictor` arguments (``width``, ``depth``); the heads follow the
            encoder.
        ema_momentum: the EMA momentum at the first step and at the end of training, linear between.
        data_preprocessor: normalises the uint8 images on the device.
    """

    def __init__(self, encoder: dict, predictor: dict,
                 ema_momentum: Tuple[float, float] = (0.996, 1.0),
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.momentum_schedule = tuple(ema_momentum)
        self.step, self.total_steps = 0, 1
        self.context_encoder = VisionTransformer(**encoder)
        self.target_encoder = copy.deepcopy(self.context_encoder).requires_grad_(False)
        enc = self.context_encoder
        self.predictor = Predictor(embed_dim=enc.embed_dim, num_heads=enc.num_heads,
                                   grid=enc.grid_size, **predictor)

    def train(self, mode: bool = True) -> 'JEPAModel':
        super().train(mode)
        self.target_encoder.eval()  # targets are deterministic (no drop path)
        return self

    def set_progress(self, step: int, total: int) -> None:
        """Training stands at step ``step`` (from 0) of ``total``."""
        self.step, self.total_steps = step, total

    @property
    def progress(self) -> float:
        """The fraction t / T of training done."""
        return self.step / max(self.total_steps, 1)

    def momentum(self) -> float:
        """The EMA momentum of the current step."""
        return ema_momentum(self.step, self.total_steps, *self.momentum_schedule)

    @torch.no_grad()
    def target_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Layer-normed target-encoder patch outputs (B, N, D), prefix tokens dropped."""
        out = self.target_encoder.forward_features(images)
        return layer_norm_targets(out[:, self.target_encoder.num_prefix_tokens:])

    def encode_context(self, images: torch.Tensor, keep: torch.Tensor,
                       keep_valid: Optional[torch.Tensor] = None,
                       image_of: Optional[torch.Tensor] = None,
                       attn_mask: Optional[torch.Tensor] = None,
                       keep_lengths: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Context-encoder outputs (S, L, D) of the ``keep`` patches only, prefix tokens dropped
        (see :meth:`~backbones.vit.VisionTransformer.forward_masked`)."""
        out = self.context_encoder.forward_masked(images, keep, keep_valid, image_of, attn_mask,
                                                  keep_lengths)
        return out[:, self.context_encoder.num_prefix_tokens:]

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """target <- momentum * target + (1 - momentum) * context, parameter by parameter."""
        tgt = list(self.target_encoder.parameters())
        src = [p.detach() for p in self.context_encoder.parameters()]
        torch._foreach_lerp_(tgt, src, 1.0 - momentum)

    def loss(self, images: torch.Tensor, masks: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, data_samples: Optional[dict] = None,
                mode: str = 'loss') -> Dict[str, torch.Tensor]:
        if mode != 'loss':
            raise ValueError(f'{type(self).__name__} only trains (mode="loss"), got mode={mode!r}')
        enc = self.context_encoder
        size = tuple(g * enc.patch_size for g in enc.grid_size)
        if tuple(inputs.shape[-2:]) != size:  # the masks index the grid of model.encoder.img_size
            raise ValueError(
                f'pretraining images are {inputs.shape[-2]}x{inputs.shape[-1]} pixels but the '
                f'encoder and its masks are built for {size[0]}x{size[1]} '
                '(model.encoder.img_size): give train_dataloader.dataset.crop_size and '
                'train_dataloader.collate_fn.input_size the same value')
        return self.loss(inputs, data_samples)
