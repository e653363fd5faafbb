"""Safe checkpoint I/O for mmengine 0.10.7 on torch >= 2.6.

``torch.load`` now defaults to ``weights_only=True``, under which mmengine cannot read back its own
checkpoints: they hold numpy scalars and arrays (log history), ``collections.Counter`` (MultiStepLR
milestones) and mmengine's ``HistoryBuffer``, whose statistics methods are pickled as
``getattr(HistoryBuffer, 'mean')``. Rather than turning safe loading off, this module allowlists
exactly those types, with ``getattr`` narrowed to HistoryBuffer's statistics. A checkpoint
holding anything else is refused with a message naming the file and the type. A checkpoint is data,
never code, and never a source of silent NaNs: the loader refuses one holding an inf or a NaN
(:func:`check_finite`), names the file when it is cut short, and drops config text from its
``meta`` that mmengine would execute (:func:`drop_config_text`).

Foreign checkpoints may pickle objects of their authors' classes next to the weights (the DSeq-JEPA
authors' scheduler objects, SPEC 4i). A reader that only wants the weights may ask for a salvage
load (``load_from_local_safely(..., salvage=True)``): the file is read again by torch's own
``weights_only`` unpickler, with every global outside the allowlist standing in as an inert
:class:`SkippedGlobal` (nothing is imported, nothing of the named code runs), and a warning names
them. The weights a caller takes must then hold none (:func:`check_no_skipped_globals`). Globals of
the modules torch blocks outright (``os``, ``sys``, ``posix``, ``nt``) are refused even then.

It also makes mmengine's local file writes atomic (write to a temporary file, then rename), so a run
killed while saving never leaves a truncated ``epoch_N.pth`` or ``last_checkpoint`` behind.

Importing this module changes nothing in torch or mmengine: :func:`enable_safe_checkpoints` does,
and is called wherever checkpoints are loaded or saved (``engine.launch`` before it builds a runner,
``engine.checkpoint.SafeCheckpointHook``, :func:`load_from_local_safely` itself, ``JEPAViT``'s
pretrained loading and the tools that read or write checkpoints).
"""
import collections
import os
import os.path as osp
import pickle
import tempfile
import warnings
from typing import Any, Callable, Iterable, Iterator, List, Tuple, Union

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = ['ALLOWED_GLOBALS', 'AtomicLocalBackend', 'SkippedGlobal', 'check_finite',
           'check_no_skipped_globals', 'drop_config_text', 'enable_safe_checkpoints',
           'load_from_local_safely', 'non_finite_tensors']


def _history_buffer_method(owner: Any, name: str) -> Any:
    """The only ``getattr`` a checkpoint may call: a statistics method of ``HistoryBuffer``."""
    if owner is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}); '
        'only HistoryBuffer statistics are allowed')


#: What the suite's checkpoints may hold besides tensors and plain containers.
ALLOWED_GLOBALS = [
    HistoryBuffer,
    (_history_buffer_method, 'builtins.getattr'),
    collections.Counter,
    np.ndarray,
    np.dtype,
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
]
ALLOWED_GLOBALS += sorted({type(np.dtype(c)) for c in '?bhilqBHILQefdgFDG'}, key=str)
# numpy 2 pickles these under numpy._core; numpy 1 under numpy.core
ALLOWED_GLOBALS += [(np.core.multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
                    (np.core.multiarray.scalar, 'numpy._core.multiarray.scalar')]


def load_from_local_safely(filename: str,
                           map_location: Union[str, torch.device, None] = None,
                           salvage: bool = False) -> Any:
    """``torch.load(weights_only=True)`` with the suite's allowlist and a clear refusal message
    (enabling :func:`enable_safe_checkpoints` first, so that a direct call is safe too), of a file
    that is whole and holds finite tensors only; config text in its ``meta`` is dropped
    (:func:`drop_config_text`).

    ``salvage``: a file refused for globals outside the allowlist is read again with inert
    :class:`SkippedGlobal` stand-ins for them, and a warning names them; the caller must check
    the part it takes with :func:`check_no_skipped_globals`. mmengine's loader never salvages.
    """
    enable_safe_checkpoints()
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        checkpoint = _weights_only_load(filename, map_location)
    except pickle.UnpicklingError as err:
        if not salvage:
            raise pickle.UnpicklingError(_refusal(filename, err)) from None
        checkpoint = _load_with_stand_ins(filename, map_location, err)
    check_finite(checkpoint, filename)
    return drop_config_text(checkpoint, filename)


def _weights_only_load(filename: str, map_location: Union[str, torch.device, None]) -> Any:
    """``torch.load(weights_only=True)``, naming the file when it cannot be read."""
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError) as err:  # torch's zip reader names no file
        cut = isinstance(err, EOFError) or 'zip archive' in str(err)
        hint = ' (a file cut short by a killed copy or a full disk?)' if cut else ''
        raise RuntimeError(f'cannot read checkpoint {filename}: {err}{hint}') from err


class SkippedGlobal:
    """What a salvage load (``load_from_local_safely(..., salvage=True)``) puts where a checkpoint
    names a global outside the allowlist: each such global becomes a subclass of this one, with
    ``global_name`` saying which. Creating one (pickle's REDUCE and NEWOBJ) and restoring its state
    (BUILD) run nothing and keep nothing; it has no other behaviour for anything to call into."""
    global_name = ''

    def __new__(cls, *args: Any, **kwargs: Any) -> 'SkippedGlobal':
        return super().__new__(cls)  # the arguments are the skipped object's: dropped

    def __setstate__(self, state: Any) -> None:
        """Drop the skipped object's state."""

    def __repr__(self) -> str:
        return f'<skipped {self.global_name}>'


def _stand_in(name: str) -> type:
    """A :class:`SkippedGlobal` subclass standing for the global ``name`` (module.qualname)."""
    return type('SkippedGlobal', (SkippedGlobal,), {'global_name': name, '__module__': __name__})


def _load_with_stand_ins(filename: str, map_location: Union[str, torch.device, None],
                         err: pickle.UnpicklingError) -> Any:
    """Read ``filename`` again with torch's weights_only unpickler, every global outside the
    allowlist allowed only as a :class:`SkippedGlobal` stand-in. Nothing is imported: the names
    come from a static scan of the pickle, and torch still refuses its blocked modules."""
    try:
        names = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # not a zip checkpoint, or opcodes the scan does not know: no salvage
        names = []
    if not names:  # an allowed global misused (getattr beyond HistoryBuffer's statistics, say)
        raise pickle.UnpicklingError(_refusal(filename, err)) from None
    try:
        # torch's allowlist is process-wide while this runs: a load in another thread meanwhile
        # would accept these names too, as the same inert stand-ins
        with torch.serialization.safe_globals([(_stand_in(n), n) for n in names]):
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as again:  # a blocked module, or a stand-in where torch needs a real object
        raise pickle.UnpicklingError(f'{_refusal(filename, err)} (read again with stand-ins for '
                                     f'{", ".join(names)}, it still failed: {again})') from None
    warnings.warn(f'{filename}: read without {", ".join(names)}: objects of classes outside the '
                  "suite's checkpoint allowlist (a trainer's schedulers, say), left out as inert "
                  'stand-ins; nothing of them was imported or run', stacklevel=3)
    return checkpoint


def _refusal(filename: str, err: pickle.UnpicklingError) -> str:
    """Why torch refused ``filename`` under the allowlist, and what to do."""
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: keep torch's own message
        found = []
    allowed = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
               for g in torch.serialization.get_safe_globals()}
    refused = [g for g in found if g not in allowed]
    if refused:
        reason = f'it holds {", ".join(refused)}, which is outside'
    else:  # an allowed global misused, e.g. getattr beyond HistoryBuffer's statistics
        detail = str(err).split('WeightsUnpickler error:')[-1]
        detail = detail.split('Check the documentation')[0]
        reason = ' '.join(detail.split())[:400] + '; see'
    return (f"refused to load {filename}: {reason} the suite's checkpoint allowlist "
            '(backbones/safe_checkpoint.py). Checkpoints are loaded with weights_only=True; if you '
            'trust this file and the type is plain data, add the type to ALLOWED_GLOBALS.')


def non_finite_tensors(named: Iterable[Tuple[str, torch.Tensor]]) -> List[str]:
    """The names of the floating-point tensors holding an inf or a NaN (one host sync in all)."""
    names, finite = [], []
    for name, tensor in named:
        if torch.is_tensor(tensor) and tensor.is_floating_point():
            names.append(name)
            finite.append(torch.isfinite(tensor).all())
    if not names:
        return []
    device = finite[0].device  # flags of other devices join it: one copy back to the host in all
    flags = torch.stack([f.to(device) for f in finite]).tolist()
    return [name for name, ok in zip(names, flags) if not ok]


def _find(obj: Any, wanted: Callable[[Any], bool], prefix: str = '') -> Iterator[Tuple[str, Any]]:
    """Every value nested in dicts, lists and tuples (dict keys included) for which ``wanted`` is
    true, named by its path of keys."""
    if wanted(obj):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            path = f'{prefix}.{key}' if prefix else str(key)
            if wanted(key):
                yield path, key
            yield from _find(value, wanted, path)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            if wanted(value) or isinstance(value, (dict, list, tuple)):  # not str, int
                yield from _find(value, wanted, f'{prefix}.{index}' if prefix else str(index))


def _is_skipped(obj: Any) -> bool:
    return isinstance(obj, SkippedGlobal) or (isinstance(obj, type)
                                              and issubclass(obj, SkippedGlobal))


def check_no_skipped_globals(part: Any, source: str) -> None:
    """Refuse the part of a salvaged checkpoint a caller takes (an encoder's weights, say) when it
    holds a :class:`SkippedGlobal`: a stand-in is never data to use."""
    found = list(_find(part, _is_skipped))
    if found:
        where = ', '.join(f'{path or "the whole"} ({skipped.global_name})'
                          for path, skipped in found[:4])
        raise pickle.UnpicklingError(
            f"refused to load {source}: the weights hold objects outside the suite's checkpoint "
            f'allowlist, at {where}{", ..." if len(found) > 4 else ""}; only the rest of a file '
            'may hold such objects, which are then skipped')


def check_finite(checkpoint: Any, source: str) -> None:
    """Refuse a checkpoint holding an inf or a NaN anywhere (weights, optimiser state), naming
    ``source`` and the first tensors: loaded, it would train on NaN losses or evaluate at chance
    without a word."""
    bad = non_finite_tensors(_find(checkpoint, torch.is_tensor))
    if bad:
        raise ValueError(f'{source}: {len(bad)} of its tensors hold inf or NaN values '
                         f'({", ".join(bad[:4])}{", ..." if len(bad) > 4 else ""}): refused, '
                         'before any training or evaluation. Use a checkpoint written before the '
                         'weights diverged.')


def drop_config_text(checkpoint: Any, source: str) -> Any:
    """``checkpoint`` without ``meta['config']``: mmengine's ``Runner.resume`` would execute that
    text as a config (``Config.fromstring``), and a checkpoint is data, never code. The run's
    config is the one its user names; a warning says what was ignored."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict) and 'config' in meta:
        meta.pop('config')
        warnings.warn(f"{source}: ignored meta['config'], config text in a checkpoint is never "
                      'run; the config is the one given on the command line', stacklevel=2)
    return checkpoint


_UMASK = os.umask(0)
os.umask(_UMASK)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend with writes that are all-or-nothing."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        """Write ``obj`` to ``filepath`` through a temporary file in the same folder."""
        directory = osp.dirname(osp.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp_', suffix=osp.basename(filepath))
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        """Write the text ``obj`` to ``filepath`` as :meth:`put` writes bytes."""
        self.put(obj.encode(encoding), filepath)


def enable_safe_checkpoints() -> None:
    """Make this process's checkpoint I/O safe: torch's safe globals get :data:`ALLOWED_GLOBALS`,
    mmengine's ``CheckpointLoader`` reads local files with :func:`load_from_local_safely`, and its
    ``'local'`` file backend becomes :class:`AtomicLocalBackend`. Idempotent: each step replaces
    or adds the same entries again."""
    torch.serialization.add_safe_globals(ALLOWED_GLOBALS)
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_safely, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
