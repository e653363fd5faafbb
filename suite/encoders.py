"""Where a preset's encoders come from when they are not pretrained by the suite: released files
and baselines, named by a path or by an environment variable.

A preset's ``released`` maps a compared method to the file of its released encoder (the suite runs
no pretraining for it); ``baselines`` maps a registered baseline method (``suite.methods``) to its
file, the method whose transfer configs it runs on (``like``: their readouts need a CLS token where
that method's do) and the backbone options its layout needs (layer scale, register tokens):

    released = dict(ijepa=dict(env='IJEPA_VITH14', expect='IN1K-vit.h.14-300e.pth.tar'))
    baselines = dict(mae=dict(env='MAE_VITH14', like='dseq', optional=True),
                     dinov2=dict(path='weights/dinov2', like='dseq',
                                 backbone=dict(num_reg_tokens=4, layer_scale_init=1e-5)))

A baseline runs every task on the ``like`` method's configs, or the ``tasks`` it names: one of
another width than the compared methods' (DINOv2 has no ViT-H) fits the probes and kNN, whose heads
take any width, but not the dense tasks' necks, built for the compared width. A required file whose
variable is unset, or that is not there, stops the run before any stage with an error naming the
variable and the file expected; an ``optional`` one is left out with a line saying so. This module
imports no torch.
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional

#: the keys an entry of ``released`` or ``baselines`` may have
ENTRY_KEYS = {'path', 'env', 'expect', 'optional', 'like', 'backbone', 'tasks'}


class EncoderFileError(KeyError):
    """A released or baseline encoder file that the preset names but the machine does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def check_entry(kind: str, name: str, entry: Mapping, methods: Mapping) -> None:
    """Refuse an entry of ``released``/``baselines`` (``kind``) the runner cannot use: unknown keys,
    neither ``path`` nor ``env``, a name that is not a registered method (``methods``)."""
    where = f'{kind}.{name}'
    if not isinstance(entry, Mapping):
        raise KeyError(f"{where} must be a dict(path=... or env=..., ...), got {entry!r}")
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise KeyError(f'{where}: unknown keys {sorted(unknown)}; known: {sorted(ENTRY_KEYS)}')
    if ('path' in entry) == ('env' in entry):
        raise KeyError(f'{where} needs exactly one of path= (a file) or env= (the environment '
                       'variable holding its path)')
    if name not in methods:
        raise KeyError(f'{where}: {name!r} is not a registered method (suite.methods): '
                       f'{sorted(methods)}')
    if kind == 'baselines' and 'like' not in entry:
        raise KeyError(f'{where} needs like=<method>, the method whose transfer configs it runs '
                       'on')


def encoder_path(kind: str, name: str, entry: Mapping, env: Mapping[str, str], root: str,
                 dry_run: bool = False) -> Optional[str]:
    """The path of an entry's encoder (relative ones from ``root``); None for an ``optional`` one
    that is not there. Raise :class:`EncoderFileError` for a required one that is not: its
    variable unset, or no such file or folder. On a dry run, an unset variable reads
    ``<$VAR unset>``."""
    expect = f" (expected: {entry['expect']})" if entry.get('expect') else ''
    if 'env' in entry:
        var = entry['env']
        path = env.get(var)
        if not path:
            if entry.get('optional'):
                return None
            if dry_run:
                return f'<${var} unset>'
            raise EncoderFileError(f'{kind}.{name} reads its encoder from the environment '
                                   f'variable {var}, which is not set: export {var}=PATH{expect}')
        source = f'{path} (from ${var})'
    else:
        path = entry['path']
        source = path
    path = path if osp.isabs(path) else osp.join(root, path)
    if not osp.exists(path):
        if entry.get('optional'):
            return None
        if dry_run:
            return path
        raise EncoderFileError(f'{kind}.{name}: the encoder file {source} does not exist{expect}')
    return path


def backbone_options(entry: Mapping) -> List[str]:
    """``--cfg-options`` setting the backbone options of a baseline's layout."""
    # mmengine's DictAction reads 1e-05, 4, None, True and (7,15) back as they were written
    return [f"model.backbone.{k}={str(v).replace(' ', '')}"
            for k, v in entry.get('backbone', {}).items()]


def resolve(preset: Mapping, env: Mapping[str, str], root: str, dry_run: bool = False,
            say=print) -> Dict[str, Dict[str, Optional[str]]]:
    """The files of the preset's ``released`` methods and ``baselines``: ``{'released': {method:
    path}, 'baselines': {name: path}}``, optional ones that are not there left out (``say``
    names them). Every required file is checked before any is used, and one error names all that
    are missing."""
    out: Dict[str, Dict[str, Optional[str]]] = {}
    errors: List[str] = []
    for kind in ('released', 'baselines'):
        out[kind] = {}
        for name, entry in preset.get(kind, {}).items():
            try:
                path = encoder_path(kind, name, entry, env, root, dry_run)
            except EncoderFileError as err:
                errors.append(str(err))
                continue
            if path is None:
                say(f'{kind}.{name}: no file ({entry.get("env") or entry.get("path")}), left out')
                continue
            out[kind][name] = path
    if errors:
        raise EncoderFileError('; '.join(errors))
    return out
