"""What a training step reads back from its device, counted on any device, the CPU included.

On a GPU the host waits for the device wherever it needs a value computed there: ``.item()``,
``bool()`` or ``int()`` of a tensor, an operator whose output shape depends on the values
(``nonzero``, boolean indexing, ``masked_select``), a copy to the host. ``torch.cuda``'s sync debug
mode counts those waits where there is a GPU; CI has none, so :class:`HostReadCounter` counts the
operations themselves, by what aten says of each operator (its ``data_dependent_output`` and
``dynamic_output_shape`` tags), which is the same on every device. A step that reads nothing back
on the CPU reads nothing back on a GPU; the converse needs the GPU's count (the sync debug mode
also sees blocking copies to the device and explicit synchronisations).
"""
import os
import traceback
from typing import List, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['HostReadCounter', 'reads_host']

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: methods that hand a tensor's values to Python without dispatching an operator on the CPU
_HOST_METHODS = ('tolist', 'numpy')


_aten = torch.ops.aten
#: indexing whose index tensors are gathered positions, unless one is a mask (its True entries)
_INDEXING = (_aten.index.Tensor, _aten.index_put.default, _aten.index_put_.default,
             _aten._index_put_impl_.default)


def reads_host(func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> bool:
    """Whether calling ``func`` on ``args`` makes the host wait for the tensors' device: its result
    is a host value or has a shape set by the values, or it copies a device tensor to the host."""
    if func in _INDEXING:  # aten tags every index.Tensor, but only a mask index reads the values
        return any(i is not None and i.dtype in (torch.bool, torch.uint8) for i in args[1])
    tags = func.tags
    if torch.Tag.data_dependent_output in tags or torch.Tag.dynamic_output_shape in tags:
        return True
    if func is _aten._to_copy.default:  # .cpu(), .to('cpu') of a device tensor
        target = kwargs.get('device')
        return target is not None and torch.device(target).type == 'cpu' and \
            args[0].device.type != 'cpu'
    return False


def _caller() -> str:
    """The innermost frame of this repository's code that led here, as ``path:line (function)``."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = os.path.abspath(frame.filename)
        if path.startswith(_ROOT) and path != os.path.abspath(__file__) and \
                'site-packages' not in path:
            return f'{os.path.relpath(path, _ROOT)}:{frame.lineno} ({frame.name})'
    return '<outside the repository>'


class HostReadCounter(TorchDispatchMode):
    """Counts the reads of device values by the host (see the module's docstring) while entered,
    in this thread: ``count`` and, for each read, ``reads`` (the operator and where in this
    repository's code it was called).

    Under any dispatch mode the blocks' compiled code runs eagerly
    (:class:`~backbones.vit.Block`), so what is counted is the eager step's reads.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads: List[str] = []
        self._saved: Optional[dict] = None

    @property
    def count(self) -> int:
        return len(self.reads)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if reads_host(func, args, kwargs):
            self.reads.append(f'{func.name()} at {_caller()}')
        return func(*args, **kwargs)

    def __enter__(self) -> 'HostReadCounter':
        self._saved = {name: torch.Tensor.__dict__.get(name) for name in _HOST_METHODS}
        for name in _HOST_METHODS:
            setattr(torch.Tensor, name, self._counted(name, getattr(torch.Tensor, name)))
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        try:
            return super().__exit__(*exc)
        finally:
            for name, method in self._saved.items():
                if method is None:
                    delattr(torch.Tensor, name)
                else:
                    setattr(torch.Tensor, name, method)

    def _counted(self, name: str, method):
        def counted(tensor: torch.Tensor, *args, **kwargs):
            self.reads.append(f'Tensor.{name} at {_caller()}')
            return method(tensor, *args, **kwargs)
        return counted
