"""Reading encoder weights out of checkpoints, loading them strictly, writing other layouts.

Each layout read is one small reader in ``_READERS``, tried in turn by :func:`read_encoder`, so a
new layout is one more function, not a branch in the loader. Files are read by
:func:`read_weights_file`: torch files (safely, past objects of their authors' classes), safetensors
files and Hugging Face model folders. The layouts and the commands that convert between them are
described in ``docs/checkpoints.md``.
"""
import json
import logging
import math
import os.path as osp
import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import safetensors.torch
import timm
import torch
from mmengine.logging import print_log
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from .pos_embed import resample_pos_embed, sincos_2d
from .safe_checkpoint import (AtomicLocalBackend, check_finite, check_no_skipped_globals,
                              load_from_local_safely)
from .vit import ARCHS

__all__ = ['ENCODERS', 'RELEASE_LAYOUTS', 'RELEASE_NETWORKS', 'encoder_state_dict',
           'load_encoder_weights', 'read_encoder', 'read_weights_file', 'release_networks',
           'save_timm_folder', 'timm_config', 'to_release']

StateDict = Dict[str, torch.Tensor]

#: Which encoder of a pretraining checkpoint to read: suite attribute name and release key.
ENCODERS = {'target': ('target_encoder', 'target_encoder'),
            'context': ('context_encoder', 'encoder')}
#: The networks of the released I-JEPA and DSeq-JEPA files: release key -> suite attribute name.
RELEASE_NETWORKS = {'encoder': 'context_encoder', 'predictor': 'predictor',
                    'target_encoder': 'target_encoder'}
#: The release layouts :func:`to_release` writes, and what tells them apart.
RELEASE_LAYOUTS = {'ijepa': 'no CLS token', 'dseq': 'a CLS token (cls_token, (1, 1, D))'}
#: What a Hugging Face model folder holds, in timm's order of preference.
FOLDER_WEIGHTS = ('model.safetensors', 'pytorch_model.bin')
#: Where timm finds the weights in a checkpoint dict, in its order.
TIMM_WRAPPERS = ('state_dict_ema', 'model_ema', 'state_dict', 'model')
#: Keys of timm's layouts that hold no encoder weights: classifiers and DINOv2's mask token.
DROPPED_KEYS = re.compile(r'(head|head_dist|pre_logits)\..*|mask_token')
#: timm's model names of the suite's standard sizes.
TIMM_SIZES = {'s': 'small', 'b': 'base', 'l': 'large', 'h': 'huge'}


def _strip(sd: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    # keys of other types (objects a salvaged file left as placeholders) never match
    return {k[len(prefix):]: v for k, v in sd.items()
            if isinstance(k, str) and k.startswith(prefix)}


def _drop_module_prefix(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """Remove the ``module.`` that DistributedDataParallel adds, when every key has it."""
    if sd and all(isinstance(k, str) and k.startswith('module.') for k in sd):
        return _strip(sd, 'module.')
    return dict(sd)


def _is_square(n: int) -> bool:
    return math.isqrt(n) ** 2 == n


# ---------------------------------------------------------------------------------------- readers

def _release_encoder(ckpt: Mapping, encoder: str, source: str) -> Optional[StateDict]:
    """The ``encoder`` of a JEPA release file (SPEC 4i), ``module.`` removed: the released I-JEPA
    file (``encoder``, ``predictor`` and ``target_encoder`` state dicts, keys prefixed
    ``module.``, no CLS token) and, read first, the DSeq-JEPA authors'."""
    if not set(RELEASE_NETWORKS) <= set(ckpt):
        return None
    net = ckpt[ENCODERS[encoder][1]]
    check_no_skipped_globals(net, source)
    return _drop_module_prefix(net) if isinstance(net, Mapping) else None


def _read_dseq_release(ckpt: Mapping, encoder: str, source: str) -> Optional[StateDict]:
    """The DSeq-JEPA authors' file: I-JEPA's ``encoder``, ``predictor`` and ``target_encoder``
    (``module.``-prefixed when trained distributed), whose encoders carry a CLS token
    (``cls_token`` (1, 1, D), zero position) next to a table without a CLS slot, plus ``epoch``,
    ``opt``, ``scaler`` and the scheduler objects (``*_scheduler``), which are not read."""
    sd = _release_encoder(ckpt, encoder, source)
    return sd if sd and 'cls_token' in sd else None


def _read_suite_pretrain(ckpt: Mapping, encoder: str, source: str) -> Optional[StateDict]:
    """A pretraining checkpoint of this suite: mmengine's ``state_dict`` of the JEPA model."""
    sd = _strip(_drop_module_prefix(ckpt.get('state_dict', ckpt)), ENCODERS[encoder][0] + '.')
    check_no_skipped_globals(sd, source)
    return sd or None


def _read_detector(ckpt: Mapping, encoder: str, source: str) -> Optional[StateDict]:
    """A detector's or segmenter's checkpoint: the ViT under ``backbone.``."""
    sd = _drop_module_prefix(ckpt.get('state_dict', ckpt))
    if 'backbone.patch_embed.proj.weight' not in sd:
        return None
    sd = _strip(sd, 'backbone.')
    check_no_skipped_globals(sd, source)
    return sd


def _read_timm(ckpt: Mapping, encoder: str, source: str) -> Optional[StateDict]:
    """A plain ViT state dict in timm's names (this suite's own included), unwrapped as timm does
    (``state_dict_ema``, ``model_ema``, ``state_dict``, ``model``; ``module.``), with DINOv2's and
    DeiT III's original names, classifier keys dropped and prefix slots of the position table
    folded into their tokens (:func:`_timm_to_suite`)."""
    wrapper = next((k for k in TIMM_WRAPPERS if isinstance(ckpt.get(k), Mapping)), None)
    sd = _drop_module_prefix(ckpt[wrapper] if wrapper else ckpt)
    if 'patch_embed.proj.weight' not in sd:
        return None
    check_no_skipped_globals(sd, source)  # every value is taken as a weight
    return _timm_to_suite(sd, source)


_READERS: Dict[str, Callable[[Mapping, str, str], Optional[StateDict]]] = {
    'DSeq-JEPA release': _read_dseq_release,
    'I-JEPA release': _release_encoder,
    'suite pretraining checkpoint': _read_suite_pretrain,
    'detector/segmenter checkpoint': _read_detector,
    'timm ViT state dict': _read_timm,
}


def _timm_to_suite(sd: StateDict, source: str) -> StateDict:
    """timm's names -> the suite's: DeiT III's ``gamma_1/2`` -> ``ls1/ls2.gamma``, DINOv2's
    ``register_tokens`` -> ``reg_token``; classifier keys and ``mask_token`` dropped."""
    out, dropped = {}, []
    for key, value in sd.items():
        if DROPPED_KEYS.fullmatch(key):
            dropped.append(key)
            continue
        key = re.sub(r'\.gamma_([12])$', r'.ls\1.gamma', key)
        out['reg_token' if key == 'register_tokens' else key] = value
    if dropped:
        print_log(f'{source}: left out {", ".join(sorted(dropped))} (a classifier or a mask '
                  'token, not part of the encoder)', logger='current', level=logging.INFO)
    _fold_prefix_positions(out)
    return out


def _fold_prefix_positions(sd: StateDict) -> None:
    """A position table with slots for prefix tokens -> the suite's (patch rows only, prefix
    tokens without position): each slot is added to its token, exactly as timm adds it.

    timm's tables hold a slot per prefix token (CLS, then registers) unless ``no_embed_class``;
    DINOv2's own register models hold one for the CLS token alone.
    """
    table = sd.get('pos_embed')
    if table is None or table.dim() != 3 or _is_square(table.shape[1]):
        return
    sizes = {k: sd[k].shape[1] for k in ('cls_token', 'reg_token') if k in sd}
    for names in (list(sizes), ['cls_token']):
        slots = sum(sizes.get(n, 0) for n in names)
        if slots and _is_square(table.shape[1] - slots):
            start = 0
            for name in names:
                sd[name] = sd[name] + table[:, start:start + sizes[name]]
                start += sizes[name]
            sd['pos_embed'] = table[:, start:].clone()  # not a view keeping the slots
            return


def read_encoder(ckpt: Mapping, encoder: str = 'target',
                 source: str = 'checkpoint') -> Tuple[str, StateDict]:
    """The name of the layout of ``ckpt`` and the encoder weights it holds, with this suite's key
    names.

    Args:
        encoder: ``'target'`` (the EMA encoder, used for transfer) or ``'context'``; files holding
            one encoder give that one.
        source: the file name, for error messages.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {encoder!r}")
    if not isinstance(ckpt, Mapping):
        raise TypeError(f'{source}: expected a dict checkpoint, got {type(ckpt).__name__}')
    for layout, reader in _READERS.items():
        sd = reader(ckpt, encoder, source)
        if sd:
            check_no_skipped_globals(sd, source)
            return layout, sd
    raise KeyError(
        f'{source}: no {encoder} encoder found. Known layouts: a DSeq-JEPA or I-JEPA release file '
        "(keys 'encoder', 'predictor', 'target_encoder'), a suite pretraining checkpoint "
        "('state_dict' with 'target_encoder.*' and 'context_encoder.*'), a detector's "
        "('backbone.*'), or a ViT state dict in timm's names ('patch_embed.proj.weight', ...; "
        f"bare or under {', '.join(TIMM_WRAPPERS)}). Top-level keys here: {sorted(ckpt)[:12]}")


def encoder_state_dict(ckpt: Mapping, encoder: str = 'target',
                       source: str = 'checkpoint') -> StateDict:
    """The encoder weights held by ``ckpt`` in any known layout (:func:`read_encoder`)."""
    return read_encoder(ckpt, encoder, source)[1]


def release_networks(ckpt: Mapping, source: str = 'checkpoint') -> Dict[str, StateDict]:
    """The three networks of an I-JEPA or DSeq-JEPA release file by suite attribute name
    (``target_encoder``, ``context_encoder``, ``predictor``), ``module.`` removed."""
    missing = [k for k in RELEASE_NETWORKS if not isinstance(ckpt.get(k), Mapping)]
    if missing:
        raise KeyError(f'{source}: not a JEPA release file (I-JEPA or DSeq-JEPA layout): no '
                       f'{missing}; top-level keys: {sorted(ckpt)[:12]}')
    nets = {name: _drop_module_prefix(ckpt[key]) for key, name in RELEASE_NETWORKS.items()}
    check_no_skipped_globals(nets, source)
    return nets


def read_weights_file(path: str) -> Mapping:
    """The contents of a local checkpoint: a torch file (loaded safely, objects of foreign classes
    left out: :func:`~backbones.safe_checkpoint.load_from_local_safely` with ``salvage``), a
    ``.safetensors`` file, or a Hugging Face model folder (``model.safetensors`` or
    ``pytorch_model.bin``, next to its ``config.json``), as timm reads them."""
    if osp.isdir(path):
        found = [f for f in (osp.join(path, n) for n in FOLDER_WEIGHTS) if osp.isfile(f)]
        if not found:
            raise FileNotFoundError(f'{path} is a folder without model weights: expected one of '
                                    f'{", ".join(FOLDER_WEIGHTS)} (a Hugging Face/timm folder)')
        path = found[0]
    if not path.endswith('.safetensors'):
        return load_from_local_safely(path, map_location='cpu', salvage=True)
    try:
        tensors = safetensors.torch.load_file(path, device='cpu')
    except Exception as err:  # safetensors' own errors name no file
        raise ValueError(f'cannot read safetensors file {path}: {err}') from err
    check_finite(tensors, path)
    return tensors


# ----------------------------------------------------------------------------------------- loading

def _fit_pos_embed(model: nn.Module, sd: StateDict, source: str) -> None:
    """Fit a checkpoint's position table from another grid to the model's grid, as the model's
    ``pos_embed_resize`` says: resampled bicubically (SPEC section 4; fixed sin-cos tables too),
    or, with ``'recompute'``, replaced by the sin-cos table of the model's grid."""
    table, own = sd.get('pos_embed'), model.pos_embed
    if table is None or table.dim() != 3 or table.shape[2] != own.shape[2] \
            or table.shape == own.shape:
        return  # the same grid, or a width the strict load names
    side = math.isqrt(table.shape[1])
    if side * side != table.shape[1]:
        raise ValueError(f'{source}: pos_embed of shape {tuple(table.shape)} does not fit a square '
                         'grid (slots for prefix tokens the weights do not hold?)')
    if model.pos_embed_resize == 'recompute':
        if not torch.allclose(table.float(), sincos_2d(table.shape[2], (side, side)), atol=1e-5):
            print_log(f'{source}: its position table is not the fixed sin-cos one (learned?); '
                      "pos_embed_resize='recompute' replaces it by the sin-cos table of the "
                      "model's grid", logger='current', level=logging.WARNING)
        sd['pos_embed'] = sincos_2d(model.embed_dim, model.grid_size)
    else:
        sd['pos_embed'] = resample_pos_embed(table, (side, side), model.grid_size)


def _names(keys: List[str], limit: int = 12) -> str:
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


#: (key or key ending, found among 'missing' or 'unexpected' keys, the option it calls for)
_OPTION_HINTS = [
    ('cls_token', 'unexpected', 'use_cls_token=True (DSeq-JEPA and timm ViTs with a CLS token)'),
    ('cls_token', 'missing', 'use_cls_token=False (I-JEPA weights have no CLS token)'),
    ('reg_token', 'missing', 'num_reg_tokens=0 (the weights hold no registers)'),
    ('.ls1.gamma', 'unexpected', 'layer_scale_init (e.g. 1e-5): the weights have layer scale'),
    ('.ls1.gamma', 'missing', 'layer_scale_init=None: the weights have no layer scale'),
    ('fc_norm.weight', 'unexpected', 'fc_norm=True: the final norm follows average pooling'),
    ('fc_norm.weight', 'missing', 'fc_norm=False: the weights hold no fc_norm'),
    ('.mlp.w12.weight', 'unexpected', "nothing: DINOv2's SwiGLU MLP (ViT-g) is not this ViT's"),
]


def _hints(model: nn.Module, sd: StateDict, missing: List[str], unexpected: List[str]) -> List[str]:
    """The ViT options a failed load calls for, from the keys and shapes of ``sd``."""
    found = {'missing': missing, 'unexpected': unexpected}
    hints = [hint for key, where, hint in _OPTION_HINTS
             if any(k == key or k.endswith(key) for k in found[where])]
    regs = sd.get('reg_token')
    if regs is not None and regs.dim() == 3 and regs.shape[1] != model.num_reg_tokens:
        hints.append(f'num_reg_tokens={regs.shape[1]}')
    kernel = sd.get('patch_embed.proj.weight')
    if kernel is not None and kernel.dim() == 4:
        if kernel.shape[-1] != model.patch_size:
            hints.append(f'patch_size={kernel.shape[-1]} (the patch-embed kernel is '
                         f'{kernel.shape[-2]}x{kernel.shape[-1]})')
        if kernel.shape[0] != model.embed_dim:
            hints.append(f'embed_dim={kernel.shape[0]} (and its num_heads)')
    depth = _depth(sd)
    if depth and depth != model.depth:
        hints.append(f'depth={depth}')
    return hints


def _depth(sd: Mapping[str, torch.Tensor]) -> int:
    """The number of blocks of a ViT state dict (0 without any)."""
    found = [int(m.group(1)) for k in sd for m in [re.match(r'blocks\.(\d+)\.', k)] if m]
    return max(found) + 1 if found else 0


def load_encoder_weights(model: nn.Module, sd: StateDict, source: str = 'checkpoint') -> None:
    """Load ``sd`` into a :class:`~backbones.vit.VisionTransformer`, all or nothing.

    Missing, unexpected and mis-shaped keys raise one error that names every one of them and the
    options they call for; nothing is copied unless all keys match. A position table from another
    grid is fitted to the model's (:func:`_fit_pos_embed`).
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
        hints = _hints(model, sd, missing, unexpected)
        hint = f' (set {"; ".join(hints)})' if hints else ''
        raise KeyError(f'{source} does not fit the ViT: ' + '; '.join(problems) + hint)
    model.load_state_dict(sd, strict=True)


# ----------------------------------------------------------------------------------------- writers

def to_release(ckpt: Mapping, layout: str = 'ijepa', source: str = 'checkpoint') -> dict:
    """A suite pretraining checkpoint in the layout of the released I-JEPA (``'ijepa'``) or
    DSeq-JEPA (``'dseq'``) weights: ``encoder`` (the context encoder), ``predictor`` and
    ``target_encoder`` state dicts with the ``module.`` prefix of DistributedDataParallel, plus
    ``epoch``. The encoders' names already match; a DSeq-JEPA file's hold the CLS token."""
    if layout not in RELEASE_LAYOUTS:
        raise ValueError(f'layout must be one of {sorted(RELEASE_LAYOUTS)}, got {layout!r}')
    sd = _drop_module_prefix(ckpt.get('state_dict', ckpt))
    out = {}
    for key, name in RELEASE_NETWORKS.items():
        part = _strip(sd, name + '.')
        if not part:
            raise KeyError(f"{source}: no '{name}.*' weights; the {layout} layout needs a suite "
                           'pretraining checkpoint')
        out[key] = {f'module.{k}': v for k, v in part.items()}
    check_no_skipped_globals(out, source)
    if ('module.cls_token' in out['target_encoder']) != (layout == 'dseq'):
        other = 'ijepa' if layout == 'dseq' else 'dseq'
        raise ValueError(f'{source}: the {layout} layout has {RELEASE_LAYOUTS[layout]}, unlike '
                         f'these weights: convert with --to {other}')
    out['epoch'] = ckpt.get('meta', {}).get('epoch', 0)
    return out


def _timm_architecture(width: int, depth: int, patch: int, img: int) -> str:
    """The timm model name closest to a ViT of these dimensions (the arguments set the rest)."""
    size = next((TIMM_SIZES[a] for a, dims in ARCHS.items()
                 if (dims['embed_dim'], dims['depth']) == (width, depth)), 'base')
    names = [f'vit_{size}_patch{patch}_{img}', f'vit_{size}_patch{patch}_224',
             f'vit_{size}_patch16_224', f'vit_{size}_patch14_224']
    return next(name for name in names + ['vit_base_patch16_224'] if timm.is_model(name))


def _num_heads(width: int, num_heads: Optional[int], source: str) -> int:
    if num_heads:
        return num_heads
    heads = {dims['embed_dim']: dims['num_heads'] for dims in ARCHS.values()}
    if width not in heads:
        raise ValueError(f'{source}: a ViT of width {width} is none of the standard sizes '
                         f'{sorted(heads)}: give its number of heads (--num-heads)')
    return heads[width]


def timm_config(sd: Mapping[str, torch.Tensor], num_heads: Optional[int] = None,
                source: str = 'checkpoint') -> dict:
    """The ``config.json`` of a Hugging Face model folder that timm builds the ViT of ``sd`` from,
    exactly (``create_model('local-dir:FOLDER')``), with ``model_args`` for ``create_model(
    architecture, **model_args)``.

    The suite's keys are timm's with ``no_embed_class=True`` (CLS and registers without position),
    so the weights are written as they are: the final ``norm`` stays ``norm``, which timm applies
    before pooling (``'token'`` with a CLS token, else ``'avg'``), as the suite's readouts do;
    weights with ``fc_norm`` pool first. ``num_heads`` defaults to the standard size of the width.
    """
    kernel = sd['patch_embed.proj.weight']
    width, in_chans, patch = kernel.shape[0], kernel.shape[1], kernel.shape[-1]
    rows = sd['pos_embed'].shape[1]
    if not _is_square(rows):
        raise ValueError(f'{source}: pos_embed with {rows} rows is not a square grid')
    img, depth = math.isqrt(rows) * patch, _depth(sd)
    class_token, fc_norm = 'cls_token' in sd, 'fc_norm.weight' in sd
    pool = 'token' if class_token and not fc_norm else 'avg'
    regs = sd['reg_token'].shape[1] if 'reg_token' in sd else 0
    args = dict(img_size=img, patch_size=patch, in_chans=in_chans, embed_dim=width, depth=depth,
                num_heads=_num_heads(width, num_heads, source),
                mlp_ratio=sd['blocks.0.mlp.fc1.weight'].shape[0] / width,
                qkv_bias='blocks.0.attn.qkv.bias' in sd, class_token=class_token,
                no_embed_class=True, reg_tokens=regs,
                global_pool=pool, fc_norm=fc_norm, num_classes=0)
    if 'blocks.0.ls1.gamma' in sd:
        args['init_values'] = 1e-5  # any value builds the layer scale: the weights set it
    cfg = dict(input_size=[in_chans, img, img], fixed_input_size=True, interpolation='bicubic',
               mean=list(IMAGENET_DEFAULT_MEAN), std=list(IMAGENET_DEFAULT_STD), num_classes=0,
               first_conv='patch_embed.proj', classifier='head')
    return dict(architecture=_timm_architecture(width, depth, patch, img), num_classes=0,
                num_features=width, global_pool=pool, model_args=args, pretrained_cfg=cfg)


def save_timm_folder(sd: Mapping[str, torch.Tensor], folder: str, num_heads: Optional[int] = None,
                     source: str = 'checkpoint') -> dict:
    """Write ``sd`` as a Hugging Face model folder for timm: ``model.safetensors``, then
    ``config.json`` (:func:`timm_config`), each atomically; returns the config."""
    config = timm_config(sd, num_heads, source)
    tensors = {k: v.detach().contiguous() for k, v in sd.items()}
    backend = AtomicLocalBackend()
    backend.put(safetensors.torch.save(tensors, metadata={'format': 'pt'}),
                osp.join(folder, 'model.safetensors'))
    backend.put_text(json.dumps(config, indent=2) + '\n', osp.join(folder, 'config.json'))
    return config
