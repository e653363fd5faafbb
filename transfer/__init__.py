"""Dataset classes that read the real transfer datasets from their standard layouts, the loading
transforms that name the file in their errors, and the linear-probe model and loops."""
from .ade import ADE20KSegDataset
from .clevr import ClevrDataset
from .coco import CocoInstanceDataset
from .loading import LoadImageFromFileChecked, LoadSegAnnotationsChecked
from .probe import (FeatureCacheTestLoop, FeatureCacheTrainLoop, FeatureCacheValLoop,
                    LinearProbe, ProbeAccuracy)

__all__ = ['ADE20KSegDataset', 'ClevrDataset', 'CocoInstanceDataset', 'FeatureCacheTestLoop',
           'FeatureCacheTrainLoop', 'FeatureCacheValLoop', 'LinearProbe',
           'LoadImageFromFileChecked', 'LoadSegAnnotationsChecked', 'ProbeAccuracy']
