"""ADE20K (ADEChallengeData2016) read from the standard layout, with an error that says what is
expected, and mmseg's IoU metric with per-image records."""
import os.path as osp
from typing import Dict, Sequence

import numpy as np
from mmseg.datasets import ADE20KDataset
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS, METRICS

from engine import records

__all__ = ['ADE20KSegDataset', 'ADE_LAYOUT', 'IoUMetricWithRecords']

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


@METRICS.register_module()
class IoUMetricWithRecords(IoUMetric):
    """mmseg's ``IoUMetric`` that, in a runner, records the mIoU it logs per image
    (:func:`engine.records.write_miou`): each image's intersection and union areas per class, which
    mmseg's results already hold, and its file name (the pairing key), so that mIoU can be
    re-computed on any resample of the images."""

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        # mmseg appends one result per sample (none when format_only): each carries its image's
        # name from here on, so that the names are gathered across processes with the results
        self.results[start:] = [result + (osp.basename(sample['img_path']),)
                                for result, sample in zip(self.results[start:], data_samples)]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics([r[:4] for r in results])
        folder = records.current_records_dir()
        if folder is not None and 'mIoU' in metrics:
            records.write_miou(folder, self.prefix, [r[4] for r in results],
                               np.stack([r[0].numpy() for r in results]),
                               np.stack([r[1].numpy() for r in results]), metrics['mIoU'])
        return metrics
