"""2-D sin-cos positional embeddings and resampling of learned tables."""
from typing import Tuple

import torch
from timm.layers import resample_abs_pos_embed

__all__ = ['sincos_2d', 'resample_pos_embed']


def _sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(N,) positions -> (N, dim): first half sin, second half cos."""
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    angles = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(embed_dim: int, grid: Tuple[int, int]) -> torch.Tensor:
    """Fixed sin-cos embedding for a (rows, cols) patch grid, shape (1, rows*cols, D).

    Row-major over the grid. The first half of the channels encodes the column (x) and the second
    half the row (y), the convention of the released I-JEPA and MAE weights, so tables computed here
    match the ones stored in those checkpoints at their native grid.
    """
    if embed_dim % 4:
        raise ValueError(f'sin-cos embedding needs embed_dim divisible by 4, got {embed_dim}')
    rows, cols = grid
    ys, xs = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing='ij')
    emb = torch.cat([_sincos_1d(embed_dim // 2, xs.flatten()),
                     _sincos_1d(embed_dim // 2, ys.flatten())], dim=1)
    return emb.float().unsqueeze(0)


def resample_pos_embed(table: torch.Tensor, old_grid: Tuple[int, int],
                       new_grid: Tuple[int, int]) -> torch.Tensor:
    """Bicubic resampling of a (1, rows*cols, D) table; the identity when the grid is unchanged."""
    if tuple(old_grid) == tuple(new_grid):
        return table
    return resample_abs_pos_embed(table, list(new_grid), list(old_grid), num_prefix_tokens=0,
                                  interpolation='bicubic', antialias=False)
