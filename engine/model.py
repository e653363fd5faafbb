"""The model inside mmengine's wrappers (DDP and its kin), for hooks and loops that call its own
methods."""
import torch.nn as nn
from mmengine.model import is_model_wrapper

__all__ = ['unwrap_model']


def unwrap_model(model: nn.Module) -> nn.Module:
    """``model.module`` if ``model`` is an mmengine model wrapper, else ``model`` itself."""
    return model.module if is_model_wrapper(model) else model
