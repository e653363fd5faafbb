"""COCO instances read from the standard layout, with an error that says what is expected."""
import os.path as osp

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

__all__ = ['CocoInstanceDataset', 'COCO_LAYOUT']

COCO_LAYOUT = """\
  annotations/instances_train2017.json
  annotations/instances_val2017.json
  train2017/<image files>
  val2017/<image files>"""


@DATASETS.register_module()
class CocoInstanceDataset(CocoDataset):
    """mmdet's ``CocoDataset`` that checks the files it needs before reading them."""

    def load_data_list(self):
        img_dir = self.data_prefix.get('img', '')  # already joined with data_root
        for path, what in ((self.ann_file, 'annotation file'), (img_dir, 'image folder')):
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'COCO {what} not found: {path}\n'
                    f'Expected the standard COCO 2017 layout under data_root '
                    f'({self.data_root or "."}):\n{COCO_LAYOUT}\n'
                    'Point the config at your copy with the COCO_ROOT environment variable '
                    '(COCO_ROOT=/path/to/coco/ python tools/train.py ...), or write a small '
                    'synthetic one with: python tools/make_synthetic_data.py coco data/coco')
        return super().load_data_list()
