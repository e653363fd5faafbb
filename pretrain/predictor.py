"""The JEPA predictor: a narrow ViT from context tokens and mask-token queries to target
features."""
from typing import Optional, Sequence, Tuple

import torch
from timm.layers import trunc_normal_
from torch import nn

from backbones.packed import pack, pack_rows, unpack
from backbones.pos_embed import sincos_2d
from backbones.vit import Block, jepa_init_

__all__ = ['Predictor']


class Predictor(nn.Module):
    """Linear D -> width, fixed sin-cos positions, ``depth`` blocks, LayerNorm, linear width -> D.

    Parameter names follow the released I-JEPA predictor (``predictor_embed``, ``mask_token``,
    ``predictor_pos_embed``, ``predictor_blocks``, ``predictor_norm``, ``predictor_proj``), so a
    checkpoint converted to that layout reads in tools built for the released weights.
    ``compile_blocks`` compiles the blocks' token-wise layers (:class:`~backbones.vit.Block`).
    """

    def __init__(self, embed_dim: int = 768, width: int = 384, depth: int = 6, num_heads: int = 12,
                 grid: Tuple[int, int] = (14, 14), mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, compile_blocks: bool = False) -> None:
        super().__init__()
        self.predictor_embed = nn.Linear(embed_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        self.register_buffer('predictor_pos_embed', sincos_2d(width, grid))
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.predictor_blocks = nn.ModuleList(
            [Block(width, num_heads, mlp_ratio, True, rates[i], compiled=compile_blocks)
             for i in range(depth)])
        self.predictor_norm = nn.LayerNorm(width, eps=1e-6)
        self.predictor_proj = nn.Linear(width, embed_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        jepa_init_(self, self.predictor_blocks)
        trunc_normal_(self.mask_token, std=0.02)

    def forward(self, context: torch.Tensor, context_pos: torch.Tensor,
                context_valid: Optional[torch.Tensor], target_pos: torch.Tensor,
                target_valid: Optional[torch.Tensor] = None,
                context_lengths: Optional[Sequence[int]] = None,
                target_lengths: Optional[Sequence[Sequence[int]]] = None) -> torch.Tensor:
        """Predict the features of the target patches.

        Args:
            context: (B, Lc, D) context-encoder outputs of the context patches (no prefix tokens).
            context_pos: (B, Lc) their patch indices.
            context_valid: (B, Lc) False on padding, or None when there is none.
            target_pos: (B, M, Lt) patch indices of M target blocks; each block is predicted in its
                own sequence, which holds the whole context and only that block's queries.
            target_valid: (B, M, Lt) False on padded queries (hidden from attention; their
                outputs are meaningless), or None.
            context_lengths, target_lengths: the number of real entries of each row of
                ``context_valid`` (B) and of ``target_valid`` (B lists of M) as host integers,
                where the caller knows them (``target_lengths`` only with ``target_valid``): packing
                then does not wait for the device (:func:`~backbones.packed.pack_rows`).

        Returns:
            (B, M, Lt, D) predictions.
        """
        b, m, lt = target_pos.shape
        valid = lengths = None
        if context_valid is not None or target_valid is not None:
            ctx_valid = (context_valid if context_valid is not None else
                         torch.ones(context_pos.shape, dtype=torch.bool, device=context.device))
            tgt_valid = (target_valid.flatten(0, 1) if target_valid is not None else
                         torch.ones(b * m, lt, dtype=torch.bool, device=context.device))
            valid = torch.cat([ctx_valid.repeat_interleave(m, dim=0), tgt_valid], dim=1)
            if context_lengths is not None and (target_lengths is not None or target_valid is None):
                blocks = target_lengths if target_lengths is not None else [[lt] * m] * b
                lengths = [c + t for c, row in zip(context_lengths, blocks) for t in row]
        out = self.predict(context, context_pos, target_pos.flatten(0, 1), valid=valid, repeats=m,
                           lengths=lengths)
        return out.view(b, m, lt, -1)

    def predict(self, context: torch.Tensor, context_pos: torch.Tensor, query_pos: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None, valid: Optional[torch.Tensor] = None,
                repeats: int = 1, lengths: Optional[Sequence[int]] = None) -> torch.Tensor:
        """One sequence per query row: context (S, Lc, D) at ``context_pos`` (S, Lc) and mask-token
        queries at ``query_pos`` (S * repeats, Lq); context row i serves query rows
        ``i * repeats`` to ``(i + 1) * repeats - 1`` and is embedded once for all of them. Either
        ``attn_mask`` (broadcastable to (S * repeats, heads, L, L), True = attend) or ``valid``
        (S * repeats, Lc + Lq), False on padding: only the real tokens are computed
        (:mod:`backbones.packed`) and padded queries come out as meaningless values; ``lengths``,
        the real entries of each row of ``valid`` as host integers, if known.
        Returns the (S * repeats, Lq, D) predictions."""
        pos = self.predictor_pos_embed[0]
        context = self.predictor_embed(context) + pos[context_pos]
        x = torch.cat([context.repeat_interleave(repeats, dim=0),
                       self.mask_token + pos[query_pos]], dim=1)
        rows = None
        if valid is not None:
            rows = pack_rows(valid, lengths)
            x = pack(x, rows)
        for blk in self.predictor_blocks:
            x = blk(x, attn_mask=attn_mask, packed=rows)
        if rows is not None:
            x = unpack(x, rows)
        return self.predictor_proj(self.predictor_norm(x[:, context.shape[1]:]))
