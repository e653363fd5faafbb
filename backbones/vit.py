"""The one Vision Transformer of the suite: pretraining encoders and every transfer backbone.

Pre-norm blocks with qkv bias, MLP ratio 4, LayerNorm eps 1e-6 and a final LayerNorm, as in I-JEPA.
Parameter names follow timm's ViT (``patch_embed.proj``, ``blocks.N.attn.qkv``, ``norm``), so the
released I-JEPA weights and timm checkpoints map onto it by renaming at most one key.

On top of the plain encoder it offers what dense transfer needs: positional embeddings for any
grid, an optional CLS token, windowed attention outside chosen global blocks, drop path and gradient
checkpointing; and what the released encoders of other methods carry, in timm's names: register
tokens, layer scale and ``fc_norm``. Nothing here depends on OpenMMLab; the registered wrapper
lives in ``mm_backbone.py``.
"""
import functools
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from timm.layers import DropPath, LayerScale, Mlp, PatchEmbed, trunc_normal_
from torch import nn
from torch.utils._python_dispatch import is_in_torch_dispatch_mode
from torch.utils.checkpoint import checkpoint

from .packed import PackedRows, pack, pack_rows, packed_attention, unpack
from .pos_embed import resample_pos_embed, sincos_2d

__all__ = ['ARCHS', 'Attention', 'Block', 'VisionTransformer', 'jepa_init_', 'patch_grid']

#: Standard sizes: width, depth and heads (SPEC section 2).
ARCHS: Dict[str, Dict[str, int]] = {
    's': dict(embed_dim=384, depth=12, num_heads=6),
    'b': dict(embed_dim=768, depth=12, num_heads=12),
    'l': dict(embed_dim=1024, depth=24, num_heads=16),
    'h': dict(embed_dim=1280, depth=32, num_heads=16),
}
#: what :meth:`VisionTransformer.forward_intermediates` returns per block: patch tokens, or
#: ``(patch tokens, prefix tokens)``
Features = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]


def _window_partition(t: torch.Tensor, grid: Tuple[int, int], window: int) -> torch.Tensor:
    """(B, heads, H*W, d) -> (B*nW, heads, window*window, d), zero-padding the grid to whole
    windows."""
    b, heads, _, d = t.shape
    rows, cols = grid
    t = t.view(b, heads, rows, cols, d)
    pad_r, pad_c = -rows % window, -cols % window
    if pad_r or pad_c:
        t = F.pad(t, (0, 0, 0, pad_c, 0, pad_r))
    nr, nc = (rows + pad_r) // window, (cols + pad_c) // window
    t = t.view(b, heads, nr, window, nc, window, d).permute(0, 2, 4, 1, 3, 5, 6)
    return t.reshape(b * nr * nc, heads, window * window, d)


def _window_unpartition(t: torch.Tensor, batch: int, grid: Tuple[int, int],
                        window: int) -> torch.Tensor:
    """Inverse of :func:`_window_partition`, cropping the padding: -> (B, heads, H*W, d)."""
    rows, cols = grid
    nr, nc = math.ceil(rows / window), math.ceil(cols / window)
    heads, d = t.shape[1], t.shape[-1]
    t = t.view(batch, nr, nc, heads, window, window, d).permute(0, 3, 1, 4, 2, 5, 6)
    t = t.reshape(batch, heads, nr * window, nc * window, d)[:, :, :rows, :cols]
    return t.reshape(batch, heads, rows * cols, d)


def _window_pad_mask(grid: Tuple[int, int], window: int, batch: int, num_prefix: int,
                     device: torch.device) -> Optional[torch.Tensor]:
    """Boolean key mask (B*nW, 1, 1, prefix + window*window) hiding padding; None without
    padding."""
    rows, cols = grid
    if rows % window == 0 and cols % window == 0:
        return None
    valid = torch.ones(1, 1, rows * cols, 1, dtype=torch.bool, device=device)
    valid = _window_partition(valid, grid, window).transpose(-1, -2)  # padding comes back False
    valid = F.pad(valid, (num_prefix, 0), value=True)
    return valid.repeat(batch, 1, 1, 1)


class Attention(nn.Module):
    """Multi-head self-attention on ``F.scaled_dot_product_attention``, global or windowed."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
                grid: Optional[Tuple[int, int]] = None, window: int = 0,
                num_prefix: int = 0, packed: Optional[PackedRows] = None) -> torch.Tensor:
        """Attend over ``x`` (B, N, C), or over packed rows ``x`` (T, C) given ``packed``.

        Args:
            attn_mask: boolean mask broadcastable to (B, heads, N, N), True where attention is
                allowed.
            grid, window: with ``window > 0`` the ``H*W`` patch tokens after the ``num_prefix``
                leading tokens attend within non-overlapping ``window x window`` windows (padding
                masked out), while prefix tokens (CLS) attend to every token and every window sees
                them.
            packed: ``x`` holds the real tokens of padded rows (:mod:`backbones.packed`); each
                token attends to its own row.
        """
        out = self.attend(self.qkv(x), attn_mask, grid, window, num_prefix, packed)
        return self.proj(out)

    def attend(self, qkv: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
               grid: Optional[Tuple[int, int]] = None, window: int = 0, num_prefix: int = 0,
               packed: Optional[PackedRows] = None) -> torch.Tensor:
        """The attention between the projections: ``qkv`` (..., 3C) -> heads merged (..., C).

        It holds no token-wise layer, so that :class:`Block` can compile those around it.
        """
        if (window or packed is not None) and attn_mask is not None:
            raise ValueError('windowed or packed attention takes no attn_mask')
        if packed is not None:
            q, k, v = qkv.view(qkv.shape[0], 3, self.num_heads, -1).unbind(1)
            return packed_attention(q, k, v, packed).flatten(1)
        b, n, _ = qkv.shape
        q, k, v = qkv.view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        if not window:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        else:
            out = self._windowed(q, k, v, grid, window, num_prefix)
        return out.transpose(1, 2).reshape(b, n, -1)

    @staticmethod
    def _windowed(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid: Tuple[int, int],
                  window: int, p: int) -> torch.Tensor:
        b = q.shape[0]
        qw, kw, vw = (_window_partition(t[:, :, p:], grid, window) for t in (q, k, v))
        if p:  # every window also sees the prefix tokens, so one window over the grid is global
            per_window = qw.shape[0] // b
            kw = torch.cat([k[:, :, :p].repeat_interleave(per_window, dim=0), kw], dim=2)
            vw = torch.cat([v[:, :, :p].repeat_interleave(per_window, dim=0), vw], dim=2)
        out = F.scaled_dot_product_attention(
            qw, kw, vw, attn_mask=_window_pad_mask(grid, window, b, p, q.device))
        out = _window_unpartition(out, b, grid, window)
        if p:
            out = torch.cat([F.scaled_dot_product_attention(q[:, :, :p], k, v), out], dim=2)
        return out


class Block(nn.Module):
    """Pre-norm transformer block; ``window_size > 0`` makes its attention windowed on dense grids.

    ``compiled``: the token-wise layers before and after attention (LayerNorms, projections, MLP,
    residual adds) run through ``torch.compile``, which fuses the element-wise work (the LayerNorms
    with autocast's casts, bias, GELU and residual adds) into few kernels; attention itself stays
    eager, so the variable-length kernel of packed rows is called as it is. Every block of the same
    width shares the compiled code (parameters are graph inputs), with dynamic token counts. Only
    the element-wise share of those layers gains; their matrix products are what they were.

    The block calls the parts of its :class:`Attention` (``qkv``, ``attend``, ``proj``), not its
    ``forward``, so hooks on ``attn`` itself do not fire.

    ``layer_scale_init``: a learned per-channel scale (timm's ``LayerScale``, ``ls1``/``ls2``) on
    each residual branch, applied before drop path as in DeiT III and DINOv2; None leaves it out.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, window_size: int = 0, compiled: bool = False,
                 layer_scale_init: Optional[float] = None) -> None:
        super().__init__()
        self.window_size = window_size
        self.compiled = compiled
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.ls1 = _layer_scale(dim, layer_scale_init)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)
        self.ls2 = _layer_scale(dim, layer_scale_init)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, grid: Optional[Tuple[int, int]] = None,
                num_prefix: int = 0, attn_mask: Optional[torch.Tensor] = None,
                packed: Optional[PackedRows] = None) -> torch.Tensor:
        """``x`` (B, N, C), or the packed tokens (T, C) of the rows described by ``packed``."""
        # Windows need the full patch grid; gathered token subsets (pretraining) attend globally.
        window = self.window_size if grid is not None else 0
        # Dynamo skips a compiled function called under a dispatch mode (a FLOP counter, say), and
        # keeps skipping it after the mode ends: such calls run the eager code instead.
        if self.compiled and not is_in_torch_dispatch_mode(include_infra_modes=False):
            before, after = _compiled(_before_attention), _compiled(_after_attention)
        else:
            before, after = _before_attention, _after_attention
        out = self.attn.attend(before(self, x), attn_mask, grid, window, num_prefix, packed)
        return after(self, x, out, packed)

    @staticmethod
    def apply_drop_path(drop: nn.Module, y: torch.Tensor,
                        packed: Optional[PackedRows]) -> torch.Tensor:
        """``drop`` (a ``DropPath`` or identity) on a residual branch ``y``; on packed tokens a
        training ``DropPath`` drops whole rows."""
        if packed is None or not (drop.training and isinstance(drop, DropPath)):
            return drop(y)
        return pack(drop(unpack(y, packed)), packed)  # a whole row is dropped, not single tokens


def _layer_scale(dim: int, init: Optional[float]) -> nn.Module:
    """A residual branch's LayerScale, or the identity (no parameter) without ``init``."""
    return nn.Identity() if init is None else LayerScale(dim, init_values=init)


def _before_attention(blk: Block, x: torch.Tensor) -> torch.Tensor:
    return blk.attn.qkv(blk.norm1(x))


def _after_attention(blk: Block, x: torch.Tensor, out: torch.Tensor,
                     packed: Optional[PackedRows]) -> torch.Tensor:
    x = x + blk.apply_drop_path(blk.drop_path1, blk.ls1(blk.attn.proj(out)), packed)
    return x + blk.apply_drop_path(blk.drop_path2, blk.ls2(blk.mlp(blk.norm2(x))), packed)


@functools.lru_cache(maxsize=None)
def _compiled(fn: Callable) -> Callable:
    """``fn`` through ``torch.compile``, built once (on first use) and shared by every block.

    Every model in the process shares these two functions, and each width, grad mode, train/eval
    mode and input layout is one more compiled variant, so dynamo's process-wide recompile limit is
    raised from its default of 8 to at least 64. ``fullgraph``: past the limit a function would
    silently run eagerly again; with one whole graph expected it fails instead.
    """
    limits = torch._dynamo.config
    limits.recompile_limit = max(limits.recompile_limit, 64)
    return torch.compile(fn, dynamic=True, fullgraph=True)


def jepa_init_(module: nn.Module, blocks: Sequence[Block]) -> None:
    """I-JEPA initialisation: trunc-normal 0.02 for linear and conv weights (zero biases), unit
    LayerNorms, then each block's residual projections scaled by 1/sqrt(2l), l counted from 1."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    with torch.no_grad():
        for layer_id, blk in enumerate(blocks, start=1):
            blk.attn.proj.weight.div_(math.sqrt(2.0 * layer_id))
            blk.mlp.fc2.weight.div_(math.sqrt(2.0 * layer_id))


def patch_grid(size: Tuple[int, int], patch_size: int, what: str) -> Tuple[int, int]:
    """(rows, cols) of patches in an image of ``size`` (h, w); a side that is not a whole number of
    patches is refused rather than cropped, which would leave pixels out without a word."""
    h, w = size
    if h % patch_size or w % patch_size:
        raise ValueError(f'{what} is {h}x{w} pixels, which patch size {patch_size} does not '
                         f'divide: give it sides that are multiples of {patch_size}')
    return h // patch_size, w // patch_size


class VisionTransformer(nn.Module):
    """ViT encoder with fixed or learned absolute positions, an optional CLS token and registers.

    Args:
        arch: one of :data:`ARCHS` (``'s'``, ``'b'``, ``'l'``, ``'h'``); ``embed_dim``, ``depth``
            and ``num_heads`` override it.
        img_size: the pretraining resolution; it sets the grid of the stored position table.
        pos_embed: ``'sincos'``, a fixed table (a buffer); ``'learned'``, a trained one.
        use_cls_token: prepend a learnable CLS token with a zero position (DSeq-JEPA).
        window_size: windowed attention in every block except ``global_blocks`` (0: all global).
        drop_path_rate: stochastic depth, increasing linearly over the blocks.
        grad_checkpointing: recompute block activations in the backward pass.
        compile_blocks: run the token-wise layers of every block through ``torch.compile``
            (see :class:`Block`); the first steps then take longer while it compiles.
        pos_embed_resize: how the table meets a patch grid other than the stored one (1024/16 ->
            64x64): ``'bicubic'`` resamples the stored table (SPEC section 4, the released I-JEPA
            code, ViTDet); ``'recompute'`` computes the fixed sin-cos table at the new grid, and
            needs ``pos_embed='sincos'``.
        num_reg_tokens: register tokens (``reg_token``, DINOv2 with registers) placed right after
            the CLS token, with no position; they count among the prefix tokens.
        layer_scale_init: initial value of a per-channel scale on every residual branch
            (``blocks.N.ls1/ls2.gamma``, DeiT III and DINOv2); None: no layer scale.
        fc_norm: timm's layout of average-pooled models (MAE fine-tuning): ``norm`` is the
            identity and ``fc_norm``, a LayerNorm, follows the pooling (:mod:`transfer.features`).
    """

    def __init__(self, arch: str = 'b', img_size: int = 224, patch_size: int = 16,
                 in_chans: int = 3, embed_dim: Optional[int] = None, depth: Optional[int] = None,
                 num_heads: Optional[int] = None, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 pos_embed: str = 'sincos', use_cls_token: bool = False, window_size: int = 0,
                 global_blocks: Sequence[int] = (), drop_path_rate: float = 0.0,
                 grad_checkpointing: bool = False, compile_blocks: bool = False,
                 pos_embed_resize: str = 'bicubic', num_reg_tokens: int = 0,
                 layer_scale_init: Optional[float] = None, fc_norm: bool = False) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise KeyError(f'unknown ViT arch {arch!r}; choose one of {sorted(ARCHS)}')
        size = dict(ARCHS[arch])
        size.update({k: v for k, v in dict(embed_dim=embed_dim, depth=depth,
                                           num_heads=num_heads).items() if v is not None})
        self.embed_dim, self.depth = size['embed_dim'], size['depth']
        self.num_heads = size['num_heads']
        self.patch_size = patch_size
        self.grid_size = patch_grid((img_size, img_size), patch_size, 'img_size')
        self.grad_checkpointing = grad_checkpointing

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, self.embed_dim,
                                      output_fmt='NHWC', strict_img_size=False)
        self._init_positions(pos_embed, pos_embed_resize)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim)) if use_cls_token else None
        if num_reg_tokens < 0:
            raise ValueError(f'num_reg_tokens must be >= 0, got {num_reg_tokens}')
        self.reg_token = (nn.Parameter(torch.zeros(1, num_reg_tokens, self.embed_dim))
                          if num_reg_tokens else None)
        self.num_reg_tokens = num_reg_tokens
        self.num_prefix_tokens = int(use_cls_token) + num_reg_tokens

        global_blocks = {b % self.depth for b in global_blocks}
        rates = torch.linspace(0, drop_path_rate, self.depth).tolist()
        self.blocks = nn.ModuleList([
            Block(self.embed_dim, self.num_heads, mlp_ratio, qkv_bias, rates[i],
                  window_size=0 if i in global_blocks else window_size, compiled=compile_blocks,
                  layer_scale_init=layer_scale_init)
            for i in range(self.depth)])
        norm = nn.LayerNorm(self.embed_dim, eps=1e-6)
        self.norm = nn.Identity() if fc_norm else norm
        self.fc_norm = norm if fc_norm else nn.Identity()
        self.reset_parameters()

    def _init_positions(self, kind: str, resize: str) -> None:
        """The stored table at ``grid_size`` (a buffer for ``'sincos'``, a parameter for
        ``'learned'``) and the way it meets other grids."""
        if kind not in ('sincos', 'learned'):
            raise ValueError(f"pos_embed must be 'sincos' or 'learned', got {kind!r}")
        if resize not in ('bicubic', 'recompute'):
            raise ValueError(f"pos_embed_resize must be 'bicubic' or 'recompute', got {resize!r}")
        if resize == 'recompute' and kind == 'learned':
            raise ValueError("pos_embed_resize='recompute' computes the fixed sin-cos table at a "
                             "new grid, which a learned table is not: use "
                             "pos_embed_resize='bicubic' with pos_embed='learned', or "
                             "pos_embed='sincos'")
        table = sincos_2d(self.embed_dim, self.grid_size)
        if kind == 'sincos':
            self.register_buffer('pos_embed', table)
        else:
            self.pos_embed = nn.Parameter(table)
        self.pos_embed_resize = resize
        self._sincos_cache = {}  # 'recompute': fixed tables of other grids, per device and dtype

    def reset_parameters(self) -> None:
        jepa_init_(self, self.blocks)
        for token in (self.cls_token, self.reg_token):
            if token is not None:
                trunc_normal_(token, std=0.02)

    def pos_embed_for(self, grid: Tuple[int, int]) -> torch.Tensor:
        """The (1, rows*cols, D) position table for a patch grid: the stored one at ``grid_size``,
        else as ``pos_embed_resize`` says.

        A bicubic resample is redone at every call, never cached: it is small, and so it follows a
        learned table's updates and any later load into the stored table. A recomputed sin-cos
        table depends on the grid alone and is cached.
        """
        if tuple(grid) == self.grid_size:
            return self.pos_embed
        if self.pos_embed_resize == 'bicubic':
            return resample_pos_embed(self.pos_embed, self.grid_size, grid)
        key = (tuple(grid), self.pos_embed.device, self.pos_embed.dtype)
        if key not in self._sincos_cache:
            self._sincos_cache[key] = sincos_2d(self.embed_dim, grid).to(self.pos_embed)
        return self._sincos_cache[key]

    def patchify(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Images (B, C, H, W) -> patch tokens with positions (B, N, D), and the patch grid.

        The patch embedding (``patch_embed.proj``, a convolution of stride = kernel = p) runs as
        one matrix product over the flattened patches: the same function, but cuDNN's kernel for
        that convolution took about 2 ms a call at batch 256 on an H200 (ViT-B/16, two calls in a
        pretraining step of about 110 ms); the matrix product is not among the 25 costliest
        operators of that step. An image side that is not a whole number of patches is refused
        (:func:`patch_grid`).
        """
        b, c, h, w = x.shape
        p = self.patch_size
        grid = patch_grid((h, w), p, 'the input')
        patches = x[:, :, :grid[0] * p, :grid[1] * p].reshape(b, c, grid[0], p, grid[1], p)
        patches = patches.permute(0, 2, 4, 1, 3, 5).reshape(b, grid[0] * grid[1], c * p * p)
        proj = self.patch_embed.proj
        tokens = F.linear(patches, proj.weight.flatten(1), proj.bias)
        return tokens + self.pos_embed_for(grid), grid

    def _add_prefix(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prepend the prefix tokens, none with a position: the CLS token, then the registers."""
        prefix = [t for t in (self.cls_token, self.reg_token) if t is not None]
        if not prefix:
            return tokens
        b = tokens.shape[0]
        return torch.cat([t.expand(b, -1, -1) for t in prefix] + [tokens], dim=1)

    def _run_blocks(self, x: torch.Tensor, grid: Optional[Tuple[int, int]] = None,
                    attn_mask: Optional[torch.Tensor] = None, out_indices: Sequence[int] = (),
                    packed: Optional[PackedRows] = None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Run every block on a token sequence; return the last output and those of ``out_indices``
        in block order.

        ``grid`` is given only when ``x`` holds the prefix plus the full patch grid (windows need
        it); with ``packed``, ``x`` (T, D) holds the real tokens of padded rows.
        """
        wanted = {i % self.depth for i in out_indices}
        outs = []
        for i, blk in enumerate(self.blocks):
            args = (x, grid, self.num_prefix_tokens, attn_mask, packed)
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(blk, *args, use_reentrant=False)
            else:
                x = blk(*args)
            if i in wanted:
                outs.append(x)
        return x, outs

    def forward_intermediates(
            self, x: torch.Tensor, indices: Union[int, Sequence[int]] = 1,
            norm: Union[bool, str] = False, return_prefix_tokens: bool = False,
            output_fmt: str = 'NCHW', intermediates_only: bool = False) -> Union[
                List[Features], Tuple[torch.Tensor, List[Features]]]:
        """The outputs of chosen blocks over the full patch grid, in one pass: the one feature API
        of the encoder, which every transfer head and probe reads.

        Args:
            x: images (B, C, H, W), sides a multiple of the patch size.
            indices: the last ``n`` blocks for an int ``n``, else block indices (negative ones count
                from the end), returned in the order given.
            norm: ``True`` passes every intermediate through the final LayerNorm (``norm``, the
                identity in an ``fc_norm`` model); ``'last'`` only the last block's, the encoder's
                output as dense transfer reads it.
            return_prefix_tokens: each intermediate becomes ``(patches, prefix)``, the prefix
                tokens (CLS, then registers) as (B, prefix, D).
            output_fmt: patch tokens as maps (B, D, H/p, W/p) with ``'NCHW'``, as (B, N, D) with
                ``'NLC'``.
            intermediates_only: return the intermediates only.

        Returns:
            ``(final, intermediates)``, ``final`` being every token (prefix first) after the last
            block and the final LayerNorm, (B, prefix + N, D); or the intermediates alone.
        """
        if output_fmt not in ('NCHW', 'NLC'):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NLC', got {output_fmt!r}")
        if norm not in (True, False, 'last'):
            raise ValueError(f"norm must be True, False or 'last', got {norm!r}")
        take = self._block_indices(indices)
        tokens, grid = self.patchify(x)
        out, outs = self._run_blocks(self._add_prefix(tokens), grid, out_indices=take)
        by_index = {}
        for index, feat in zip(sorted(set(take)), outs):
            if norm is True or (norm == 'last' and index == self.depth - 1):
                feat = self.norm(feat)
            by_index[index] = self._format(feat, grid, return_prefix_tokens, output_fmt)
        intermediates = [by_index[i] for i in take]
        return intermediates if intermediates_only else (self.norm(out), intermediates)

    def _block_indices(self, indices: Union[int, Sequence[int]]) -> List[int]:
        """Block numbers 0..depth-1 for :meth:`forward_intermediates`' ``indices``."""
        if isinstance(indices, int):
            indices = range(-indices, 0)
        bad = [i for i in indices if not -self.depth <= i < self.depth]
        if bad:
            raise IndexError(f'block indices {bad} do not exist in a ViT of depth {self.depth}')
        return [i % self.depth for i in indices]

    def _format(self, tokens: torch.Tensor, grid: Tuple[int, int], return_prefix_tokens: bool,
                output_fmt: str) -> Features:
        """(B, prefix + N, D) tokens -> patch tokens in ``output_fmt``, with the prefix if asked."""
        prefix, patches = tokens[:, :self.num_prefix_tokens], tokens[:, self.num_prefix_tokens:]
        if output_fmt == 'NCHW':
            patches = patches.transpose(1, 2).reshape(patches.shape[0], -1, *grid)
        return (patches, prefix) if return_prefix_tokens else patches

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Every token (prefix first) after the final LayerNorm, (B, prefix + N, D)."""
        return self.forward_intermediates(x, ())[0]

    def forward_masked(self, x: torch.Tensor, keep: Optional[torch.Tensor] = None,
                       keep_valid: Optional[torch.Tensor] = None,
                       image_of: Optional[torch.Tensor] = None,
                       attn_mask: Optional[torch.Tensor] = None,
                       keep_lengths: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Pretraining's entry point: tokens (prefix first) after the final LayerNorm of a subset of
        the patches, with padded rows or an attention mask.

        With ``keep`` (S, L) patch indices only those patches are encoded (gathered before the first
        block; the others are never computed), giving (S, prefix + L, D). ``keep_valid`` (S, L)
        marks real entries of padded index rows: only those are computed (:mod:`backbones.packed`)
        and the padding comes out as zeros; ``keep_lengths``, the number of real entries of each row
        as host integers where the caller knows them, spares packing its wait for the device
        (:func:`~backbones.packed.pack_rows`). ``image_of`` (S,) says which image each index row
        reads, for several sequences per image (default: row i, image i). ``attn_mask`` (boolean,
        broadcastable to (S, heads, prefix + L, prefix + L), True = attend) restricts attention
        among the encoded tokens instead of ``keep_valid`` (a block-causal order, say).
        """
        if keep_valid is not None and attn_mask is not None:
            raise ValueError('give keep_valid (packed rows) or attn_mask, not both')
        tokens, grid = self.patchify(x)
        if image_of is not None:
            tokens = tokens[image_of]
        if keep is not None:  # a subset of the grid: global attention, no windows
            tokens = torch.gather(tokens, 1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
            grid = None
        tokens = self._add_prefix(tokens)
        if keep_valid is None:
            return self.norm(self._run_blocks(tokens, grid, attn_mask=attn_mask)[0])
        prefix = self.num_prefix_tokens
        rows = pack_rows(F.pad(keep_valid, (prefix, 0), value=True),
                         None if keep_lengths is None else [n + prefix for n in keep_lengths])
        out, _ = self._run_blocks(pack(tokens, rows), packed=rows)
        return unpack(self.norm(out), rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)
