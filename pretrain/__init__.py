"""JEPA pretraining on mmengine: I-JEPA and DSeq-JEPA.

Importing this package registers the models (``IJEPA``, ``DSeqJEPA``), the data pieces
(``ImageFolderDataset``, ``StepBatchSampler``, ``multiblock_collate``, ``DecodingDataPreprocessor``)
and the runtime pieces (``PretrainLoop``, ``TrainingProgressHook``, ``PretrainLogHook``,
``PretrainRuntimeInfoHook``, ``BF16OptimWrapper``, ``DeviceAwareDDP``) with mmengine, and with
:mod:`backbones` the safe checkpoint loading.
"""
import backbones  # noqa: F401  (the ViT, safe checkpoint I/O)

from .data import ImageFolderDataset, StepBatchSampler
from .device_decode import DecodingDataPreprocessor, EncodedCrop
from .dseq import DSeqJEPA
from .ijepa import IJEPA
from .jepa import JEPAModel, ema_momentum
from .masks import MultiBlockMaskSampler, multiblock_collate
from .predictor import Predictor
from .runtime import (BF16OptimWrapper, DeviceAwareDDP, PretrainLogHook, PretrainLoop,
                      PretrainRuntimeInfoHook, TrainableOptimWrapperConstructor,
                      TrainingProgressHook)
from .sequence import SEQUENCE_MODES

__all__ = ['BF16OptimWrapper', 'DecodingDataPreprocessor', 'DeviceAwareDDP', 'DSeqJEPA', 'EncodedCrop',
           'IJEPA', 'ImageFolderDataset', 'JEPAModel',
           'MultiBlockMaskSampler', 'Predictor', 'PretrainLogHook', 'PretrainLoop',
           'PretrainRuntimeInfoHook', 'SEQUENCE_MODES',
           'StepBatchSampler', 'TrainableOptimWrapperConstructor', 'TrainingProgressHook',
           'ema_momentum', 'multiblock_collate']
