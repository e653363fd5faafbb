"""Dataset classes that read the real transfer datasets from their standard layouts (and low-shot
subsets of them), the loading transforms that name the file in their errors, the classification
pipeline's transforms, the linear and attentive probes and their loops, the layer-wise readouts,
full fine-tuning, MSN's few-shot logistic regression, and kNN classification (evaluation and
pretraining monitor).

The detection and segmentation datasets, :mod:`transfer.coco` and :mod:`transfer.ade`, import
mmdet and mmseg (about a second together): the configs of those tasks import them by name
(``custom_imports``), and every other job starts without them.
"""
from .classification import (CUB200Dataset, ClassBalancedSubset, ImageNetDataset, INat21Dataset,
                             StanfordCarsDataset)
from .classification_transforms import (LoadRGBImage, PackProbeInputs, PackTimmInputs,
                                        RandomResizedCrop, ResizeShortEdge)
from .clevr import ClevrDataset
from .knn import KNNClassifier, KNNMonitorHook, KNNTestLoop
from .loading import LoadImageFromFileChecked, LoadSegAnnotationsChecked
from .feature_cache import FeatureCacheTestLoop, FeatureCacheTrainLoop, FeatureCacheValLoop
from .probe import LinearProbe, ProbeAccuracy, ProbeHeadsOptimWrapperConstructor
from .subsets import ImageSubset
from .few_shot import FewShotAccuracy, FewShotLogistic, FewShotTestLoop
from .finetune import FineTuneClassifier
from .attentive import (AttentiveHeadsOptimWrapperConstructor, AttentiveProbe,
                        ClevrAttentiveProbeRunner, HeadwiseClipOptimWrapper,
                        HeldOutSelectionTestLoop)

__all__ = ['AttentiveHeadsOptimWrapperConstructor', 'AttentiveProbe', 'CUB200Dataset',
           'ClassBalancedSubset', 'ClevrAttentiveProbeRunner', 'ClevrDataset',
           'FeatureCacheTestLoop', 'FeatureCacheTrainLoop', 'FeatureCacheValLoop',
           'FewShotAccuracy', 'FewShotLogistic', 'FewShotTestLoop', 'FineTuneClassifier',
           'HeadwiseClipOptimWrapper', 'HeldOutSelectionTestLoop', 'INat21Dataset',
           'ImageNetDataset', 'ImageSubset', 'KNNClassifier', 'KNNMonitorHook', 'KNNTestLoop',
           'LinearProbe', 'LoadImageFromFileChecked', 'LoadRGBImage', 'LoadSegAnnotationsChecked',
           'PackProbeInputs', 'PackTimmInputs', 'ProbeAccuracy',
           'ProbeHeadsOptimWrapperConstructor', 'RandomResizedCrop', 'ResizeShortEdge',
           'StanfordCarsDataset']
