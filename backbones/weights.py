"""Reading encoder weights out of checkpoints, loading them strictly, writing other layouts.

Each foreign layout is one small reader; :func:`encoder_state_dict` tries them in turn, so a new
layout is one more function in ``_READERS``, not a branch in the loader.
"""
import math
from typing import Callable, Dict, List, Mapping, Optional

import torch
from torch import nn

from .pos_embed import resample_pos_embed

__all__ = ['encoder_state_dict', 'load_encoder_weights', 'to_timm_state_dict', 'to_ijepa_release',
           'ENCODERS']

StateDict = Dict[str, torch.Tensor]

#: Which encoder of a pretraining checkpoint to read: suite attribute name and release key.
ENCODERS = {'target': ('target_encoder', 'target_encoder'),
            'context': ('context_encoder', 'encoder')}


def _strip(sd: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _drop_module_prefix(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """Remove the ``module.`` that DistributedDataParallel adds, when every key has it."""
    if sd and all(k.startswith('module.') for k in sd):
        return _strip(sd, 'module.')
    return dict(sd)


def _read_ijepa_release(ckpt: Mapping, encoder: str) -> Optional[StateDict]:
    """The released I-JEPA file: ``encoder``, ``predictor`` and ``target_encoder`` state dicts."""
    if not {'encoder', 'target_encoder', 'predictor'} <= set(ckpt):
        return None
    return _drop_module_prefix(ckpt[ENCODERS[encoder][1]])


def _read_suite_pretrain(ckpt: Mapping, encoder: str) -> Optional[StateDict]:
    """A pretraining checkpoint of this suite: mmengine's ``state_dict`` of the JEPA model."""
    sd = _drop_module_prefix(ckpt.get('state_dict', ckpt))
    sub = _strip(sd, ENCODERS[encoder][0] + '.')
    return sub or None


def _read_backbone(ckpt: Mapping, encoder: str) -> Optional[StateDict]:
    """A plain backbone state dict, bare, under ``state_dict`` or under a detector's
    ``backbone.``."""
    sd = _drop_module_prefix(ckpt.get('state_dict', ckpt))
    if 'backbone.patch_embed.proj.weight' in sd:
        return _strip(sd, 'backbone.')
    return sd if 'patch_embed.proj.weight' in sd else None


_READERS: List[Callable[[Mapping, str], Optional[StateDict]]] = [
    _read_ijepa_release, _read_suite_pretrain, _read_backbone]


def encoder_state_dict(ckpt: Mapping, encoder: str = 'target',
                       source: str = 'checkpoint') -> StateDict:
    """The encoder weights held by ``ckpt`` in any known layout, with this suite's key names.

    Args:
        encoder: ``'target'`` (the EMA encoder, used for transfer) or ``'context'``.
        source: the file name, for error messages.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {encoder!r}")
    if not isinstance(ckpt, Mapping):
        raise TypeError(f'{source}: expected a dict checkpoint, got {type(ckpt).__name__}')
    for reader in _READERS:
        sd = reader(ckpt, encoder)
        if sd:
            return sd
    raise KeyError(
        f'{source}: no {encoder} encoder found. Known layouts: an I-JEPA release file '
        "(keys 'encoder', 'predictor', 'target_encoder'), a suite pretraining checkpoint "
        "('state_dict' with 'target_encoder.*' and 'context_encoder.*'), or a plain ViT state dict "
        f"('patch_embed.proj.weight', ...). Top-level keys here: {sorted(ckpt)[:12]}")


def _fit_pos_embed(model: nn.Module, sd: StateDict, source: str) -> None:
    """Fit a checkpoint's position table from another grid: resampled (bicubic) when learned,
    recomputed when fixed sin-cos."""
    table = sd.get('pos_embed')
    if table is None or table.shape == model.pos_embed.shape or table.dim() != 3:
        return
    if model.pos_embed_type == 'sincos':  # a fixed table is a function of the grid
        sd['pos_embed'] = model.pos_embed.detach().clone()
        return
    side = math.isqrt(table.shape[1])
    if side * side != table.shape[1] or table.shape[2] != model.pos_embed.shape[2]:
        raise ValueError(f'{source}: pos_embed of shape {tuple(table.shape)} does not fit a square '
                         f'grid of width {model.pos_embed.shape[2]}')
    sd['pos_embed'] = resample_pos_embed(table, (side, side), model.grid_size)


def _names(keys: List[str], limit: int = 12) -> str:
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def load_encoder_weights(model: nn.Module, sd: StateDict, source: str = 'checkpoint') -> None:
    """Load ``sd`` into a :class:`~backbones.vit.VisionTransformer`, all or nothing.

    Missing, unexpected and mis-shaped keys raise one error that names every one of them; nothing is
    copied unless all keys match. A position table from another grid is resampled (bicubic).
    """
    sd = dict(sd)
    _fit_pos_embed(model, sd, source)
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    misshaped = sorted(f'{k} {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}'
                       for k in set(sd) & set(own) if sd[k].shape != own[k].shape)
    problems = []
    if missing:
        problems.append(f'missing keys: {_names(missing)}')
    if unexpected:
        problems.append(f'unexpected keys: {_names(unexpected)}')
    if misshaped:
        problems.append(f'mis-shaped keys: {_names(misshaped)}')
    if problems:
        hint = ''
        if 'cls_token' in missing or 'cls_token' in unexpected:
            hint = (' (DSeq-JEPA weights carry a CLS token and need use_cls_token=True; '
                    'I-JEPA weights have none)')
        raise KeyError(f'{source} does not fit the ViT: ' + '; '.join(problems) + hint)
    model.load_state_dict(sd, strict=True)


def to_timm_state_dict(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """Rename a suite ViT state dict to timm's ``VisionTransformer`` with ``global_pool='avg'``.

    timm applies the final norm after pooling as ``fc_norm``; a CLS token gets the zero position row
    that timm keeps in front of its table (load it with ``class_token=True``).
    """
    out = {}
    for k, v in sd.items():
        out[('fc_' + k) if k.startswith('norm.') else k] = v
    if 'cls_token' in out:
        table = out['pos_embed']
        out['pos_embed'] = torch.cat([table.new_zeros(1, 1, table.shape[-1]), table], dim=1)
    return out


def to_ijepa_release(ckpt: Mapping, source: str = 'checkpoint') -> dict:
    """A suite pretraining checkpoint in the layout of the released I-JEPA weights.

    ``encoder``, ``predictor`` and ``target_encoder`` state dicts with the ``module.`` prefix of
    DistributedDataParallel, plus ``epoch``; the predictor's parameter names already match.
    """
    sd = _drop_module_prefix(ckpt.get('state_dict', ckpt))
    out = {}
    for key, prefix in (('encoder', 'context_encoder.'), ('predictor', 'predictor.'),
                        ('target_encoder', 'target_encoder.')):
        part = _strip(sd, prefix)
        if not part:
            raise KeyError(f"{source}: no '{prefix}*' weights; the I-JEPA layout needs a suite "
                           'pretraining checkpoint')
        out[key] = {f'module.{k}': v for k, v in part.items()}
    out['epoch'] = ckpt.get('meta', {}).get('epoch', 0)
    return out
