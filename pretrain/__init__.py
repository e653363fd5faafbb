"""JEPA pretraining on mmengine: I-JEPA and DSeq-JEPA.

Importing this package registers the models (``IJEPA``, ``DSeqJEPA``), the data pieces (``ImageFolderDataset``,
``StepBatchSampler``, ``multiblock_collate``) and the runtime pieces (``PretrainLoop``,
``TargetEMAHook``, ``PretrainLogHook``, ``BF16OptimWrapper``, ``DeviceAwareDDP``) with mmengine, and
with :mod:`backbones` the safe checkpoint loading.
"""
import backbones  # noqa: F401  (the ViT, safe checkpoint I/O)

from .data import ImageFolderDataset, StepBatchSampler
from .dseq import DSeqJEPA
from .ijepa import IJEPA
from .jepa import JEPAModel
from .masks import MultiBlockMaskSampler, multiblock_collate
from .predictor import Predictor
from .runtime import (BF16OptimWrapper, DeviceAwareDDP, PretrainLogHook, PretrainLoop,
                      TargetEMAHook, TrainableOptimWrapperConstructor, ema_momentum)

__all__ = ['BF16OptimWrapper', 'DeviceAwareDDP', 'DSeqJEPA', 'IJEPA', 'ImageFolderDataset', 'JEPAModel',
           'MultiBlockMaskSampler', 'Predictor', 'PretrainLogHook', 'PretrainLoop',
           'StepBatchSampler', 'TargetEMAHook', 'TrainableOptimWrapperConstructor', 'ema_momentum',
           'multiblock_collate']
