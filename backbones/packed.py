"""Rows of different lengths packed back to back, so that padding costs nothing.

Pretraining encodes batches of gathered token rows of different lengths (the contexts of a batch,
the predictor's context-plus-query sequences). Padded to the longest row, every token-wise layer
(linear layers, LayerNorms, MLP) also computes the padding: about a fifth of the FLOPs of an I-JEPA
step at 224/16. Packed, the rows are one (T, D) tensor of real tokens, and only attention needs to
know where a row ends. On CUDA in half precision it runs the variable-length flash kernel on the
packed tokens: the kernel behind nested-tensor attention, called directly, since through nested
tensors a ViT-B/16 step took 314 ms instead of 110 ms on an H200, mostly in host time.
Elsewhere the rows are scattered back to the padded layout and attend under a key mask. Both are
exact: a token attends to the real tokens of its own row and nothing else.
"""
from typing import NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = ['PackedRows', 'pack_rows', 'pack', 'unpack', 'packed_attention', 'padded_attention',
           'varlen_flash_attention']


class PackedRows(NamedTuple):
    """Where the real entries of a padded (S, L) batch of rows lie.

    ``valid`` (S, L) is True on real entries; ``index`` (T,) holds their positions in
    ``valid.flatten()``, row after row; ``offsets`` (S + 1,) int32 is where each row starts in the
    packed layout; ``max_len`` is the longest row.
    """
    valid: torch.Tensor
    index: torch.Tensor
    offsets: torch.Tensor
    max_len: int


def pack_rows(valid: torch.Tensor, lengths: Optional[Sequence[int]] = None) -> PackedRows:
    """The packing of rows whose real entries are ``valid`` (S, L) bool (any positions in a row).

    The number of real tokens is a shape, so it must be known on the host: from ``lengths``, the
    number of real entries of each row as host integers, where the caller knows them (the masks of
    an I-JEPA batch are drawn on the host), else read back from ``valid``'s device, which waits for
    it. The packing depends on ``lengths`` only through their sum and maximum, which are checked
    against ``valid`` on its device without waiting for it (a failed check raises there).
    """
    counts = valid.sum(1)
    if lengths is None:
        total, longest = torch.stack([counts.sum(), counts.max()]).tolist()
    else:
        total, longest = sum(lengths), max(lengths, default=0)
        torch._assert_async((counts.sum() == total) & (counts.max() == longest),
                            f'row lengths of sum {total} and maximum {longest} do not match the '
                            'real entries of the packed rows')
    # A stable sort puts the real entries first, in row-major order, with no data-dependent shape.
    index = torch.argsort((~valid).flatten().to(torch.uint8), stable=True)[:total]
    offsets = F.pad(counts.cumsum(0), (1, 0)).to(torch.int32)
    return PackedRows(valid, index, offsets, longest)


def pack(x: torch.Tensor, rows: PackedRows) -> torch.Tensor:
    """Padded rows (S, L, ...) -> their real entries (T, ...)."""
    return x.flatten(0, 1).index_select(0, rows.index)


def unpack(x: torch.Tensor, rows: PackedRows) -> torch.Tensor:
    """Packed entries (T, ...) -> padded rows (S, L, ...), zeros on the padding."""
    s, length = rows.valid.shape
    out = x.new_zeros(s * length, *x.shape[1:]).index_copy(0, rows.index, x)
    return out.view(s, length, *x.shape[1:])


def varlen_flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           rows: PackedRows) -> torch.Tensor:
    """Per-row attention of packed (T, heads, d) CUDA half-precision tensors, one kernel call."""
    return torch.ops.aten._flash_attention_forward(
        q, k, v, rows.offsets, rows.offsets, rows.max_len, rows.max_len, 0.0, False, False)[0]


def padded_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     rows: PackedRows) -> torch.Tensor:
    """Per-row attention of packed (T, heads, d) tensors in the padded layout under a key mask."""
    q, k, v = (unpack(t, rows).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=rows.valid[:, None, None, :])
    return pack(out.transpose(1, 2), rows)


def packed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     rows: PackedRows) -> torch.Tensor:
    """Each token attends to the tokens of its own row: (T, heads, d) -> (T, heads, d).

    On CUDA in bf16 or fp16 (autocast) the variable-length flash kernel runs on the packed tokens;
    otherwise the rows are padded for one masked attention call.
    """
    if q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] % 8 == 0 \
            and q.shape[-1] <= 256:
        return varlen_flash_attention(q, k, v, rows)
    return padded_attention(q, k, v, rows)
