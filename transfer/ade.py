"""ADE20K (ADEChallengeData2016) read from the standard layout, with an error that says what is
expected."""
import os.path as osp

from mmseg.datasets import ADE20KDataset
from mmseg.registry import DATASETS

__all__ = ['ADE20KSegDataset', 'ADE_LAYOUT']

ADE_LAYOUT = """\
  images/training/<name>.jpg
  images/validation/<name>.jpg
  annotations/training/<name>.png     (uint8 class ids 1..150, 0 = other, ignored)
  annotations/validation/<name>.png"""


@DATASETS.register_module()
class ADE20KSegDataset(ADE20KDataset):
    """mmseg's ``ADE20KDataset`` (150 classes, ``reduce_zero_label``: id 0 becomes the ignore index
    255 and id ``k`` class ``k - 1``) that checks its folders before reading them."""

    def load_data_list(self):
        for key, what in (('img_path', 'image folder'), ('seg_map_path', 'annotation folder')):
            folder = self.data_prefix.get(key)  # already joined with data_root
            if folder is not None and not osp.isdir(folder):
                raise FileNotFoundError(
                    f'ADE20K {what} not found: {folder}\n'
                    f'Expected the standard ADEChallengeData2016 layout under data_root '
                    f'({self.data_root or "."}):\n{ADE_LAYOUT}\n'
                    'Point the config at your copy with the ADE_ROOT environment variable '
                    '(ADE_ROOT=/path/to/ADEChallengeData2016 python tools/train.py ...), or write '
                    'a small synthetic one with: '
                    'python tools/make_synthetic_data.py ade20k data/ade/ADEChallengeData2016')
        return super().load_data_list()
