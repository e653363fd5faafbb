"""Dataset classes that read the real transfer datasets from their standard layouts, and the
linear-probe model and loops."""
from .clevr import ClevrDataset
from .coco import CocoInstanceDataset
from .probe import (FeatureCacheTestLoop, FeatureCacheTrainLoop, FeatureCacheValLoop,
                    LinearProbe, ProbeAccuracy)

__all__ = ['ClevrDataset', 'CocoInstanceDataset', 'FeatureCacheTestLoop', 'FeatureCacheTrainLoop',
           'FeatureCacheValLoop', 'LinearProbe', 'ProbeAccuracy']
