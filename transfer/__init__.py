"""Dataset classes that read the real transfer datasets from their standard layouts, the loading
transforms that name the file in their errors, the classification pipeline's transforms, the
linear-probe model and loops, and kNN classification (evaluation and pretraining monitor)."""
from .ade import ADE20KSegDataset
from .classification import (CUB200Dataset, ClassBalancedSubset, ImageNetDataset, INat21Dataset,
                             StanfordCarsDataset)
from .classification_transforms import (LoadRGBImage, PackProbeInputs, RandomResizedCrop,
                                        ResizeShortEdge)
from .clevr import ClevrDataset
from .coco import CocoInstanceDataset
from .knn import KNNClassifier, KNNMonitorHook, KNNTestLoop
from .loading import LoadImageFromFileChecked, LoadSegAnnotationsChecked
from .probe import (FeatureCacheTestLoop, FeatureCacheTrainLoop, FeatureCacheValLoop,
                    LinearProbe, ProbeAccuracy, ProbeHeadsOptimWrapperConstructor)

__all__ = ['ADE20KSegDataset', 'CUB200Dataset', 'ClassBalancedSubset', 'ClevrDataset',
           'CocoInstanceDataset', 'FeatureCacheTestLoop', 'FeatureCacheTrainLoop',
           'FeatureCacheValLoop', 'INat21Dataset', 'ImageNetDataset', 'KNNClassifier',
           'KNNMonitorHook', 'KNNTestLoop', 'LinearProbe',
           'LoadImageFromFileChecked', 'LoadRGBImage', 'LoadSegAnnotationsChecked',
           'PackProbeInputs', 'ProbeAccuracy', 'ProbeHeadsOptimWrapperConstructor',
           'RandomResizedCrop', 'ResizeShortEdge',
           'StanfordCarsDataset']
