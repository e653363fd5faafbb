"""Dataset classes that read the real transfer datasets from their standard layouts."""
from .coco import CocoInstanceDataset

__all__ = ['CocoInstanceDataset']
