"""ADE20K (ADEChallengeData2016) read from the standard layout, with an error that says what is
expected, and mmseg's IoU metric with per-image records."""
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
from mmseg.datasets import ADE20KDataset
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS, METRICS

from engine import records
from engine.files import DataLayout

__all__ = ['ADE20KSegDataset', 'ADE_LAYOUT', 'IoUMetricWithRecords']

_ADE_TREE = """\
  images/training/<name>.jpg
  images/validation/<name>.jpg
  annotations/training/<name>.png     (uint8 class ids 1..150, 0 = other, ignored)
  annotations/validation/<name>.png"""
#: ADE20K's layout (ADEChallengeData2016), for the errors of missing folders
ADE_LAYOUT = DataLayout('ADE20K', _ADE_TREE, 'ADE_ROOT', 'the ADEChallengeData2016 folder',
                        'ade20k', 'data/ade/ADEChallengeData2016')


@DATASETS.register_module()
class ADE20KSegDataset(ADE20KDataset):
    """mmseg's ``ADE20KDataset`` (150 classes, ``reduce_zero_label``: id 0 becomes the ignore index
    255 and id ``k`` class ``k - 1``) that checks its folders before reading them."""

    def __init__(self, *args, root_env: Optional[str] = None, **kwargs) -> None:
        # a config that reads its data_root from another variable (the synthetic smoke configs'
        # SYNTH_ADE_ROOT) names it, so that a missing folder's error names the variable it read
        self.root_env = root_env
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        for key, what in (('img_path', 'image folder'), ('seg_map_path', 'annotation folder')):
            folder = self.data_prefix.get(key)  # already joined with data_root
            if folder is not None and not osp.isdir(folder):
                raise ADE_LAYOUT.missing(what, folder, self.data_root, self.root_env)
        return super().load_data_list()


@METRICS.register_module()
class IoUMetricWithRecords(IoUMetric):
    """mmseg's ``IoUMetric`` that, in a runner, records the mIoU it logs per image
    (:func:`engine.records.write_miou`): each image's intersection and union areas per class, which
    mmseg's results already hold, paired by its file name and a digest of its ground-truth label
    map (:func:`engine.records.label_map_digest`), so that mIoU can be re-computed on any resample
    of the images and compared image by image only with runs on the same ground truth."""

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        # mmseg appends one result per sample (none when format_only): each carries its image's
        # name and label map digest from here on, so that they are gathered across processes with
        # the results
        self.results[start:] = [
            result + (osp.basename(sample['img_path']), _label_digest(sample))
            for result, sample in zip(self.results[start:], data_samples)]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics([r[:4] for r in results])
        folder = records.current_records_dir()
        if folder is not None and 'mIoU' in metrics:
            records.write_miou(folder, self.prefix, [r[4] for r in results],
                               np.stack([r[0].numpy() for r in results]),
                               np.stack([r[1].numpy() for r in results]), metrics['mIoU'],
                               label_digests=[r[5] for r in results])
        return metrics


def _label_digest(sample: dict) -> str:
    """The digest of a sample's ground-truth label map, as the metric compared it (on the CPU)."""
    label = sample['gt_sem_seg']['data']
    return records.label_map_digest(np.asarray(label.cpu() if hasattr(label, 'cpu') else label))
