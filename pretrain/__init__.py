"""JEPA pretraining on mmengine: I-JEPA now, DSeq-JEPA next (``regions.py`` is its first piece).

Importing this package registers the models (``IJEPA``), the data pieces (``ImageFolderDataset``,
``StepBatchSampler``, ``multiblock_collate``) and the runtime pieces (``PretrainLoop``,
``TargetEMAHook``, ``PretrainLogHook``, ``BF16OptimWrapper``, ``DeviceAwareDDP``) with mmengine, and
with :mod:`backbones` the safe checkpoint loading.
"""
import backbones  # noqa: F401  (the ViT, safe checkpoint I/O)

from .data import ImageFolderDataset, StepBatchSampler
from .ijepa import IJEPA
from .jepa import JEPAModel
from .masks import MultiBlockMaskSampler, multiblock_collate
from .predictor import Predictor
from .runtime import (BF16OptimWrapper, DeviceAwareDDP, PretrainLogHook, PretrainLoop,
                      TargetEMAHook, TrainableOptimWrapperConstructor, ema_momentum)

__all__ = ['BF16OptimWrapper', 'DeviceAwareDDP', 'IJEPA', 'ImageFolderDataset', 'JEPAModel',
           'MultiBlockMaskSampler', 'Predictor', 'PretrainLogHook', 'PretrainLoop',
           'StepBatchSampler', 'TargetEMAHook', 'TrainableOptimWrapperConstructor', 'ema_momentum',
           'multiblock_collate']
