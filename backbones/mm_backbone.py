"""Registry glue: the suite's ViT as an mmengine backbone for MMDetection and MMSegmentation."""
import copy
import logging
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.registry import MODELS
from mmengine.runner import CheckpointLoader

from .safe_checkpoint import enable_safe_checkpoints
from .vit import Features, VisionTransformer
from .weights import load_encoder_weights, read_encoder, read_weights_file

__all__ = ['JEPAViT']


@MODELS.register_module()
class JEPAViT(VisionTransformer):
    """:class:`VisionTransformer` returning NCHW feature maps of ``out_indices`` for dense heads.

    Registered in mmengine's root ``MODELS``, so ``mmdet`` and ``mmseg`` configs reach it through
    ``custom_imports=dict(imports=['backbones'])``.

    Args:
        out_indices: blocks whose outputs become feature maps (CLS dropped).
        global_blocks: blocks with global attention when ``window_size > 0``; defaults to
            ``out_indices``, the recipe of SPEC section 4.
        norm_last: pass the last block's output through the final LayerNorm.
        with_prefix_tokens: each output becomes ``(map, prefix tokens)``, the prefix tokens (CLS,
            then registers) of that block as (B, prefix, D), for heads that read the CLS token
            beside the patches (DINOv2's depth head).
        frozen_stages: -1 trains everything; 0 freezes the patch embedding, positions, CLS and
            register tokens; ``k`` also freezes blocks ``0..k-1``; the depth (every block) also
            the final norms, as mmpretrain's ViT does: the frozen encoder of the dense linear
            probes.
        with_cp: gradient checkpointing.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, encoder='target'|'context')`` loads
            any layout :func:`~backbones.weights.read_encoder` knows, strictly, from a torch file,
            a ``.safetensors`` file or a Hugging Face model folder
            (:func:`~backbones.weights.read_weights_file`); ``checkpoint=None`` keeps the random
            initialisation (so that ``--cfg-options model.backbone.init_cfg.checkpoint=PATH`` can
            fill it in).
        **kwargs: the :class:`VisionTransformer` arguments (``arch``, ``img_size``, ``patch_size``,
            ``use_cls_token``, ``window_size``, ``drop_path_rate``, ``pos_embed``, ...).
    """

    def __init__(self, out_indices: Sequence[int] = (3, 5, 7, 11),
                 global_blocks: Optional[Sequence[int]] = None, norm_last: bool = True,
                 with_prefix_tokens: bool = False, frozen_stages: int = -1, with_cp: bool = False,
                 init_cfg: Optional[dict] = None, **kwargs) -> None:
        super().__init__(global_blocks=out_indices if global_blocks is None else global_blocks,
                         grad_checkpointing=with_cp, **kwargs)
        self.out_indices = tuple(out_indices)
        self.norm_last = norm_last
        self.with_prefix_tokens = with_prefix_tokens
        self.frozen_stages = frozen_stages
        self.init_cfg = copy.deepcopy(init_cfg)
        self._freeze()

    def init_weights(self) -> None:
        """Load ``init_cfg``'s checkpoint; without one, keep the random initialisation."""
        cfg = self.init_cfg or {}
        if cfg.get('type') != 'Pretrained':
            if cfg:
                raise ValueError(f"JEPAViT init_cfg supports only type='Pretrained', got {cfg}")
            return
        path = cfg.get('checkpoint')
        if path is None:  # a random-initialisation baseline that keeps the Pretrained layout
            print_log('JEPAViT: init_cfg.checkpoint is None, keeping the random initialisation',
                      logger='current', level=logging.WARNING)
            return
        if '://' in path:
            enable_safe_checkpoints()  # the allowlist for mmengine's remote loaders too
            ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        elif osp.exists(path):
            ckpt = read_weights_file(path)
        else:
            raise FileNotFoundError(
                f'pretrained checkpoint {path} not found: set model.backbone.init_cfg.checkpoint '
                '(e.g. --cfg-options model.backbone.init_cfg.checkpoint=PATH), or '
                'model.backbone.init_cfg=None to start from random weights')
        encoder = cfg.get('encoder', 'target')
        layout, sd = read_encoder(ckpt, encoder, source=path)
        load_encoder_weights(self, sd, source=f'{path} ({layout})')
        print_log(f'JEPAViT: loaded the {encoder} encoder of {path} ({layout})', logger='current')

    def _freeze(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed] + list(self.blocks[:self.frozen_stages])
        if self.frozen_stages >= self.depth:
            frozen += [self.norm, self.fc_norm]
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False
        for p in (self.pos_embed, self.cls_token, self.reg_token):
            if isinstance(p, torch.nn.Parameter):
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'JEPAViT':
        super().train(mode)
        self._freeze()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[Features, ...]:
        return tuple(self.forward_intermediates(
            x, self.out_indices, norm='last' if self.norm_last else False,
            return_prefix_tokens=self.with_prefix_tokens, intermediates_only=True))
