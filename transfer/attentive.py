"""Attentive probes on a frozen encoder's tokens (SPEC section 4f): :class:`AttentiveProbe` is a
:class:`~transfer.probe.LinearProbe` whose heads pool the last block's tokens (the readouts
``patches`` or ``cls_patches``) before their linear layer, with the linear probe's head grid,
param groups, metric, per-image records and held-out head selection.

Two poolers:

- ``kind='vjepa'`` (:class:`AttentivePooler`, the V-JEPA-style pooler as SPEC section 4f describes
  V-JEPA 2's): learnable queries (one for classification), ``depth - 1`` self-attention blocks over
  the tokens (the encoder's own ``Block``), then one cross-attention block
  (:class:`CrossAttentionBlock`, without an output projection) whose pooled query goes to a
  linear layer. Depth 4 is V-JEPA 2's probe; depth 1 (the cross-attention block alone) has
  V-JEPA 1's layout but is not its probe, whose cross-attention has an output projection.
- ``kind='efficient'`` (:class:`EfficientProbe`, EP): Q queries in one head over the raw tokens,
  each pooling its own channel group of the values; BatchNorm without affine parameters, then a
  linear layer.

The heads' optimiser (:class:`AttentiveHeadsOptimWrapperConstructor`) keeps weight decay off biases
and 1-D parameters, and :class:`HeadwiseClipOptimWrapper` clips each head's gradient on its own, so
the heads of a grid train as if each were trained alone. Where the tokens of a training set cannot
be cached (ImageNet-1k: 1.28M x 196 x 768), :class:`HeldOutSelectionTestLoop` chooses the heads on
the held-out slice of the training set, encoding its images as it goes.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.config import Config
from mmengine.registry import (LOOPS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                               RUNNERS)
from mmengine.runner import Runner, TestLoop
from timm.layers import Mlp, trunc_normal_

from backbones.layer_decay import exempt_from_weight_decay
from backbones.vit import Block
from engine.model import unwrap_model
from .clevr import with_task
from .feature_cache import choose_heads, heldout_part, score_heads
from .features import TOKEN_READOUTS
from .probe import HeadSpec, LinearProbe, ProbeAccuracy, ProbeHeadsOptimWrapperConstructor

__all__ = ['AttentiveProbe', 'AttentivePooler', 'AttentiveClassifier', 'CrossAttention',
           'CrossAttentionBlock', 'EfficientProbe', 'AttentiveHeadsOptimWrapperConstructor',
           'ClevrAttentiveProbeRunner', 'HeadwiseClipOptimWrapper', 'HeldOutSelectionTestLoop',
           'POOLERS', 'attentive_head']

#: pooler kind -> what it is and the options it takes (besides the width and classes)
POOLERS = {
    'vjepa': 'the V-JEPA-style attentive pooler (no output projection) and a linear layer; '
             'options depth (1: cross-attention only), num_heads, num_queries (1)',
    'efficient': 'efficient probing (EP): one-head attention of Q queries, each pooling a channel '
                 'group of the values, then BatchNorm (no affine) and a linear layer; option '
                 'num_queries (32)',
}


def _init_linears(module: nn.Module) -> None:
    """Trunc-normal 0.02 weights and zero biases for every linear layer, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class CrossAttention(nn.Module):
    """Multi-head attention of queries over tokens, with separate query and key-value projections
    and, as SPEC section 4f describes V-JEPA 2's, no output projection: the heads' outputs are
    concatenated as they come."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'num_heads {num_heads} does not divide the width {dim}')
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """queries (B, Q, D), tokens (B, N, D) -> (B, Q, D)."""
        b, q_len, dim = queries.shape
        heads = self.num_heads
        q = self.q(queries).view(b, q_len, heads, -1).transpose(1, 2)
        k, v = self.kv(tokens).view(b, tokens.shape[1], 2, heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return out.transpose(1, 2).reshape(b, q_len, dim)


class CrossAttentionBlock(nn.Module):
    """The queries attend to the LayerNormed tokens (the queries themselves are not normed), with
    a residual into the queries, then a pre-norm MLP (ratio ``mlp_ratio``) with a residual."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.xattn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        queries = queries + self.xattn(queries, self.norm1(tokens))
        return queries + self.mlp(self.norm2(queries))


class AttentivePooler(nn.Module):
    """The V-JEPA-style attentive pooler of SPEC section 4f: ``depth - 1`` of the encoder's
    ``Block``\\ s of self-attention over the tokens (qkv bias, MLP ratio 4, no dropout), then a
    :class:`CrossAttentionBlock` in which ``num_queries`` learnable queries pool them.

    Initialised as V-JEPA 2's pooler: trunc-normal 0.02 (queries and linear weights), zero biases,
    unit LayerNorms, then the residual output weights divided by sqrt(2 l): ``attn.proj`` and
    ``mlp.fc2`` of self-attention block l (1..depth-1), and the ``mlp.fc2`` of the cross-attention
    block (which has no output projection) with the last self-attention block's l, depth - 1, not
    depth, as V-JEPA 2 does (l = 1 at depth 1, where there is none).
    """

    def __init__(self, dim: int, num_heads: int, depth: int = 1, num_queries: int = 1) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f'an attentive pooler has depth >= 1 (its cross-attention block), '
                             f'got {depth}')
        self.queries = nn.Parameter(torch.zeros(1, num_queries, dim))
        self.blocks = nn.Sequential(*[Block(dim, num_heads, mlp_ratio=4.0, qkv_bias=True)
                                      for _ in range(depth - 1)])
        self.cross_block = CrossAttentionBlock(dim, num_heads)
        self.init_weights()

    def init_weights(self) -> None:
        """V-JEPA 2's initialisation, depth-rescaled (see the class)."""
        trunc_normal_(self.queries, std=0.02)
        _init_linears(self)
        outputs = [(layer_id, (b.attn.proj.weight, b.mlp.fc2.weight))
                   for layer_id, b in enumerate(self.blocks, start=1)]
        # V-JEPA 2 rescales the cross-attention block as its last self-attention block (depth - 1),
        # and by layer id 1 where it has none
        outputs.append((max(len(self.blocks), 1), (self.cross_block.mlp.fc2.weight,)))
        with torch.no_grad():
            for layer_id, weights in outputs:
                for weight in weights:
                    weight.div_(math.sqrt(2.0 * layer_id))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, D) -> pooled queries (B, num_queries, D)."""
        tokens = self.blocks(tokens)
        return self.cross_block(self.queries.expand(len(tokens), -1, -1), tokens)


class AttentiveClassifier(nn.Module):
    """:class:`AttentivePooler` and a linear layer (trunc-normal 0.02, zero bias) on its pooled
    queries, flattened (one query: the query itself)."""

    def __init__(self, dim: int, num_classes: int, num_heads: int, depth: int = 1,
                 num_queries: int = 1) -> None:
        super().__init__()
        self.pooler = AttentivePooler(dim, num_heads, depth, num_queries)
        self.linear = nn.Linear(dim * num_queries, num_classes)
        _init_linears(self.linear)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, D) -> logits (B, classes)."""
        return self.linear(self.pooler(tokens).flatten(1))


class EfficientProbe(nn.Module):
    """Efficient probing (EP): ``num_queries`` learnable queries attend in one head to the raw
    tokens (no query or key projection); query q's softmax attention pools channel group q of the
    values (a D -> D projection split into ``num_queries`` groups of D / Q channels); the groups,
    concatenated (D), go through a BatchNorm without affine parameters and a linear layer.

    The value projection has no bias, as EP's. The attention logits are scaled by 1/sqrt(D), the
    dot-product attention's scale for one head of width D (SPEC names none). Queries and linear
    weights start trunc-normal 0.02, the linear layer's bias 0.
    """

    def __init__(self, dim: int, num_classes: int, num_queries: int = 32) -> None:
        super().__init__()
        if dim % num_queries:
            raise ValueError(f'num_queries {num_queries} does not divide the width {dim}')
        self.queries = nn.Parameter(torch.zeros(num_queries, dim))
        # no bias, as EP's (qkv_bias=False): each query's softmax weights sum to 1, so a bias would
        # only shift its pooled group by a constant, which the BatchNorm takes out again
        self.value = nn.Linear(dim, dim, bias=False)
        self.norm = nn.BatchNorm1d(dim, affine=False)
        self.linear = nn.Linear(dim, num_classes)
        trunc_normal_(self.queries, std=0.02)
        _init_linears(self)
        self.scale = dim ** -0.5

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, D) -> the pooled value groups, concatenated (B, D)."""
        # (B, N, Q): every query's logits over the tokens, one matmul; softmax over the tokens
        weights = (tokens @ self.queries.t() * self.scale).softmax(1)
        values = self.value(tokens).unflatten(-1, (len(self.queries), -1))  # (B, N, Q, D / Q)
        return torch.einsum('bnq,bnqc->bqc', weights, values).flatten(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, D) -> logits (B, classes)."""
        return self.linear(self.norm(self.pool(tokens)))


def attentive_head(kind: str, dim: int, num_classes: int, **options) -> nn.Module:
    """A head of :data:`POOLERS` ``kind`` on tokens of width ``dim``, with its ``options``."""
    if kind == 'vjepa':
        return AttentiveClassifier(dim, num_classes, **options)
    if kind == 'efficient':
        return EfficientProbe(dim, num_classes, **options)
    raise KeyError(f'unknown pooler kind {kind!r}; choose one of {sorted(POOLERS)}')


@MODELS.register_module()
class AttentiveProbe(LinearProbe):
    """A frozen encoder and attentive heads on its tokens, trained side by side.

    Args:
        backbone, num_classes, head_grid, data_preprocessor, init_cfg: as :class:`LinearProbe`'s.
        readouts: token readouts, ``'patches'`` (the last block's patch tokens after the final
            norm) and/or ``'cls_patches'`` (the CLS token before them).
        pooler: ``dict(kind=..., **options)``, a kind of :data:`POOLERS`, e.g.
            ``dict(kind='vjepa', depth=1, num_heads=12)`` or
            ``dict(kind='efficient', num_queries=32)``; every head gets its own.

    The heads train (they have no dropout); the encoder stays frozen and in eval mode.
    """

    def __init__(self, backbone: dict, num_classes: int, pooler: dict,
                 readouts: Sequence[str] = ('patches',), head_grid: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        pooler = dict(pooler)
        if pooler.get('kind') not in POOLERS:
            raise KeyError(f"pooler needs kind, one of {sorted(POOLERS)}; got {pooler}")
        pooled = [r for r in readouts if r not in TOKEN_READOUTS]
        if pooled:
            raise KeyError(f'an attentive probe pools tokens: readouts {pooled} are not among '
                           f'{TOKEN_READOUTS}')
        # read by build_head, which LinearProbe.__init__ calls
        self.pooler_cfg = pooler
        super().__init__(backbone, num_classes, readouts=readouts, head_grid=head_grid,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def build_head(self, spec: HeadSpec, num_classes: int) -> nn.Module:
        """An attentive head of ``pooler``'s kind on the encoder's tokens."""
        options = {k: v for k, v in self.pooler_cfg.items() if k != 'kind'}
        return attentive_head(self.pooler_cfg['kind'], self.backbone.embed_dim, num_classes,
                              **options)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class AttentiveHeadsOptimWrapperConstructor(ProbeHeadsOptimWrapperConstructor):
    """:class:`~transfer.probe.ProbeHeadsOptimWrapperConstructor` with each head in two param
    groups, both at its lr: its weights (with its weight decay) and its biases and 1-D parameters
    (LayerNorms; without weight decay), as V-JEPA's probe. Each group names its head
    (``group['head']``), which :class:`HeadwiseClipOptimWrapper` reads."""

    def head_groups(self, probe: LinearProbe) -> List[dict]:
        groups = []
        for name, group in zip(probe.head_specs, super().head_groups(probe)):
            named = list(probe.heads[name].named_parameters())
            decayed = [p for n, p in named if not exempt_from_weight_decay(n, p)]
            exempt = [p for n, p in named if exempt_from_weight_decay(n, p)]
            groups.append(dict(group, head=name, params=decayed))
            groups.append(dict(group, head=name, weight_decay=0.0, params=exempt))
        return [g for g in groups if g['params']]


@OPTIM_WRAPPERS.register_module()
class HeadwiseClipOptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper whose ``clip_grad`` clips each head's gradient (the param groups of
    one ``group['head']``) on its own, so a grid's heads train independently; groups that name no
    head are clipped together."""

    def _clip_grad(self) -> None:
        by_head: Dict[Optional[str], List[torch.Tensor]] = {}
        for group in self.optimizer.param_groups:
            by_head.setdefault(group.get('head'), []).extend(
                p for p in group['params'] if p.requires_grad and p.grad is not None)
        norms = [self.clip_func(params, **self.clip_grad_kwargs)
                 for params in by_head.values() if params]
        if norms and norms[0] is not None:  # clip_grad_value_ returns None
            # the largest head's norm before clipping, where mmengine logs the one total
            self.message_hub.update_scalar(f'train/{self.grad_name}',
                                           float(torch.stack(norms).max()))


@LOOPS.register_module()
class HeldOutSelectionTestLoop(TestLoop):
    """mmengine's TestLoop over images that first chooses, per readout, the head best on the
    held-out slice of the training set (the ``ClassBalancedSubset`` of
    :func:`~transfer.feature_cache.heldout_part`, loaded through the test pipeline), encoding its
    images as it goes, and then reports the chosen heads' test top-1 with the choice's scalars, as
    :class:`~transfer.feature_cache.FeatureCacheTestLoop` does over cached features.
    ``select_on_heldout`` is always on; it is named as that loop's option is."""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 select_on_heldout: bool = True) -> None:
        if not select_on_heldout:
            raise ValueError('HeldOutSelectionTestLoop always selects; use TestLoop otherwise')
        held_out = heldout_part(runner.cfg.get('train_dataloader'), dataloader)
        # the slice of the training set, loaded as the test split is (no augmentation)
        held_out.dataset.dataset = dict(held_out.dataset.dataset,
                                        pipeline=dataloader['dataset']['pipeline'])
        super().__init__(runner, dataloader, evaluator, fp16)
        if not any(isinstance(m, ProbeAccuracy) for m in self.evaluator.metrics):
            raise TypeError("HeldOutSelectionTestLoop reports through ProbeAccuracy: "
                            "test_evaluator needs type='ProbeAccuracy'")
        self.selection_loader = runner.build_dataloader(held_out, seed=runner.seed)

    def run(self) -> dict:
        top1, count = score_heads(self.runner, self.selection_loader)
        chosen, scalars = choose_heads(unwrap_model(self.runner.model), top1, count,
                                       self.runner.logger)
        for metric in self.evaluator.metrics:
            if isinstance(metric, ProbeAccuracy):
                metric.report_selected(chosen, scalars)
        return super().run()


@RUNNERS.register_module()
class ClevrAttentiveProbeRunner(Runner):
    """The runner of the attentive CLEVR probes: the config completed by its ``task`` as
    :class:`~transfer.clevr.ClevrProbeRunner`'s (:func:`~transfer.clevr.with_task`), and also the
    task of the held-out split the heads are chosen on (``test_cfg.selection_dataloader``) and the
    report's task named as the attentive probe's (``CLEVR Count attentive``), apart from the linear
    probe's rows."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        cfg = with_task(cfg)
        cfg.test_cfg.selection_dataloader.dataset.task = cfg.task
        cfg.report.task = f'{cfg.report.task} attentive'
        return super().from_cfg(cfg)
