"""The model wrapper of distributed pretraining: :class:`DeviceAwareDDP`, mmengine's DDP wrapper
made usable on CPU (gloo) too."""
from typing import Optional, Sequence

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['DeviceAwareDDP']


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """mmengine's DDP wrapper; on a CPU model it drops ``device_ids``, which DDP refuses there."""

    def __init__(self, module: torch.nn.Module, device_ids: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)
