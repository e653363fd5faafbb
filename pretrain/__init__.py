"""JEPA pretraining on mmengine: I-JEPA and DSeq-JEPA.

Importing this package registers the models (``IJEPA``, ``DSeqJEPA``), the data pieces
(``ImageFolderDataset``, ``StepBatchSampler``, ``multiblock_collate``, ``DecodingDataPreprocessor``)
and the runtime pieces (``PretrainLoop`` in :mod:`pretrain.loop`; ``TrainingProgressHook``,
``PretrainLogHook``, ``TargetRankHook``, ``PretrainRuntimeInfoHook`` in :mod:`pretrain.hooks`;
``BF16OptimWrapper``, ``TrainableOptimWrapperConstructor`` in :mod:`pretrain.optim`;
``DeviceAwareDDP`` in :mod:`pretrain.ddp`) with mmengine, and with :mod:`backbones` the ViT.
The seeds of every random draw come from :mod:`pretrain.seeds`.
"""
import backbones  # noqa: F401  (registers the ViT and its OpenMMLab glue)

from .data import ImageFolderDataset, StepBatchSampler
from .ddp import DeviceAwareDDP
from .device_decode import DecodingDataPreprocessor, EncodedCrop
from .dseq import DSeqJEPA
from .hooks import PretrainLogHook, PretrainRuntimeInfoHook, TargetRankHook, TrainingProgressHook
from .ijepa import IJEPA
from .jepa import JEPAModel, ema_momentum
from .loop import PretrainLoop
from .masks import MultiBlockMaskSampler, multiblock_collate
from .optim import BF16OptimWrapper, TrainableOptimWrapperConstructor
from .predictor import Predictor
from .sequence import SEQUENCE_MODES

__all__ = ['BF16OptimWrapper', 'DecodingDataPreprocessor', 'DeviceAwareDDP', 'DSeqJEPA',
           'EncodedCrop', 'IJEPA', 'ImageFolderDataset', 'JEPAModel', 'MultiBlockMaskSampler',
           'Predictor', 'PretrainLogHook', 'PretrainLoop', 'PretrainRuntimeInfoHook',
           'SEQUENCE_MODES', 'StepBatchSampler', 'TargetRankHook',
           'TrainableOptimWrapperConstructor', 'TrainingProgressHook', 'ema_momentum',
           'multiblock_collate']
