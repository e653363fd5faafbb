"""NYU-Depth v2 read from the layout the DINOv2 and DINOv3 depth evaluations read (SPEC section 4h),
its depth loading and border crop, and mmseg's depth metric computed image by image, with per-image
records.

mmseg's ``DepthMetric`` keeps every evaluated pixel of every image until the end (654 test images
of about 230k pixels each: over a gigabyte gathered on one process) and raises when given
``depth_metrics``; :class:`DepthMetricWithRecords` computes each image's metrics as it comes and
keeps those, which is all its mean over images needs.
"""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.datasets import BaseSegDataset
from mmseg.datasets.transforms import LoadDepthAnnotation
from mmseg.evaluation.metrics import DepthMetric
from mmseg.registry import DATASETS, METRICS, TRANSFORMS

from engine import records
from engine.files import DataLayout

from .loading import read_map

__all__ = ['DepthMetricWithRecords', 'LoadDepthAnnotationChecked', 'NYU_LAYOUT', 'NYUCrop',
           'NYUDepthDataset', 'NYU_SHAPE']

_NYU_TREE = """\
  nyu_train.txt                (a line per image: "<rgb> <depth> <focal>", paths under data_root,
  nyu_test.txt                  e.g. kitchen_0028b/rgb_00045.jpg kitchen_0028b/sync_depth_00045.png
                                518.8579; training paths may start with /)
  <scene>/rgb_<frame>.jpg          (480x640 RGB)
  <scene>/sync_depth_<frame>.png   (480x640 uint16 millimetres, 0 = invalid)"""
#: NYU-Depth v2's layout, for the errors of a missing split file
NYU_LAYOUT = DataLayout('NYU-Depth v2', _NYU_TREE, 'NYU_ROOT',
                        'the folder holding nyu_train.txt and nyu_test.txt', 'nyu', 'data/nyu')

#: (height, width) of NYU's frames, on which the border crop and the Eigen crop are defined
NYU_SHAPE = (480, 640)
#: the training crop of NYU's white border (the depth toolbox's NYUCrop): rows, columns
_BORDER_CROP = (slice(45, 472), slice(43, 608))
#: the Eigen crop, inside which depth is evaluated (mmseg's 'nyu_crop'): rows, columns
_EIGEN_CROP = (slice(45, 471), slice(41, 601))
#: ground truth in metres to the integer millimetres NYU stores, for its digest
_MM_PER_M = 1000
#: the form of a line of a split file, for its errors
_LINE_FORM = '"<rgb path> <depth path> <focal>" separated by spaces'


@DATASETS.register_module()
class NYUDepthDataset(BaseSegDataset):
    """NYU-Depth v2 images with their depth maps, listed in a split file under ``data_root``.

    Each data info holds ``img_path`` and ``depth_map_path`` (joined with ``data_root``, leading
    slashes stripped) and the empty ``seg_fields`` the depth loader adds to; the focal is read but
    not used. The metainfo holds ``data_root``, which :class:`DepthMetricWithRecords` names the
    images relative to.

    Args:
        split_file: the split file, relative to ``data_root``: ``nyu_train.txt`` or
            ``nyu_test.txt``.
        root_env: the environment variable the config read ``data_root`` from, when it is not
            ``NYU_ROOT`` (the synthetic smoke configs'), for the error of a missing split file.
        **kwargs: the arguments of mmseg's ``BaseSegDataset``.
    """
    # one 'class' so that mmseg's test mode, which wants classes, accepts the dataset
    METAINFO = dict(classes=('depth',))

    def __init__(self, split_file: str = 'nyu_test.txt', root_env: Optional[str] = None,
                 **kwargs) -> None:
        self.split_file = split_file
        self.root_env = root_env
        super().__init__(**kwargs)
        self._metainfo['data_root'] = self.data_root

    def load_data_list(self) -> List[dict]:
        path = osp.join(self.data_root or '', self.split_file)
        if not osp.isfile(path):
            raise NYU_LAYOUT.missing('split file', path, self.data_root, self.root_env)
        with open(path) as f:
            lines = f.read().splitlines()
        return [self._data_info(path, number, line)
                for number, line in enumerate(lines, start=1) if line.strip()]

    def _data_info(self, split_file: str, number: int, line: str) -> dict:
        """The data info of line ``number`` of ``split_file``; an error naming both where the line
        is malformed or a file it lists does not exist."""
        fields = line.split()
        if len(fields) != 3 or not _is_number(fields[2]):
            raise ValueError(f'{split_file} line {number}: {line!r}; expected {_LINE_FORM}')
        rgb, depth = (osp.join(self.data_root or '', p.lstrip('/')) for p in fields[:2])
        for what, file in (('image', rgb), ('depth map', depth)):
            if not osp.isfile(file):
                raise FileNotFoundError(f'{split_file} line {number} lists the {what} {file}, '
                                        'which does not exist')
        return dict(img_path=rgb, depth_map_path=depth, seg_fields=[])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@TRANSFORMS.register_module()
class LoadDepthAnnotationChecked(LoadDepthAnnotation):
    """mmseg's ``LoadDepthAnnotation`` (float32 depth times ``depth_rescale_factor`` in
    ``gt_depth_map``, added to ``seg_fields``) that names the depth map in read and decode errors
    and refuses a map that is not one channel of uint16, NYU's millimetres (0 = invalid):
    ``depth_rescale_factor=1e-3`` gives metres.

    Args:
        depth_rescale_factor: what the stored values are multiplied by.
        backend_args: mmengine's file backend arguments.
    """

    def __init__(self, depth_rescale_factor: float = 1.0,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(decode_backend='cv2', to_float32=True,
                         depth_rescale_factor=depth_rescale_factor, backend_args=backend_args)

    def _read_depth(self, path: str) -> np.ndarray:
        """The depth map at ``path`` as stored."""
        depth = read_map(path, self.backend_args, 'cv2')
        if depth.ndim != 2 or depth.dtype != np.uint16:
            raise ValueError(f'depth map {path} holds {depth.dtype} of shape {depth.shape}; '
                             'expected one channel of uint16 millimetres (0 = invalid)')
        return depth

    def transform(self, results: dict) -> dict:
        depth = self._read_depth(results['depth_map_path'])
        results['gt_depth_map'] = depth.astype(np.float32) * np.float32(self.depth_rescale_factor)
        results['seg_fields'].append('gt_depth_map')
        results['depth_rescale_factor'] = self.depth_rescale_factor
        return results


@TRANSFORMS.register_module()
class NYUCrop(BaseTransform):
    """The training crop of NYU's white border, as the depth toolbox crops it: rows 45..471 and
    columns 43..607 of the 480x640 image and of its ``seg_fields`` (the depth map), 427x565 left.
    Anything but a 480x640 frame is refused: the crop is defined on NYU's frames."""

    def transform(self, results: dict) -> dict:
        for key in ['img'] + list(results.get('seg_fields', [])):
            if results[key].shape[:2] != NYU_SHAPE:
                raise ValueError(f'NYUCrop: {key} of {results.get("img_path")} is '
                                 f'{results[key].shape[:2]}; the crop is defined on NYU\'s '
                                 f'{NYU_SHAPE} frames')
            results[key] = results[key][_BORDER_CROP]
        results['img_shape'] = results['img'].shape[:2]
        return results


@METRICS.register_module()
class DepthMetricWithRecords(DepthMetric):
    """mmseg's ``DepthMetric`` with NYU's evaluation by default (depth valid in (0.001, 10) m,
    the Eigen crop of a 480x640 ground truth), computed image by image: each image's metrics over
    its evaluated pixels, then their mean over images, as mmseg's (an image without an evaluated
    pixel, which makes mmseg's mean NaN, is left out with a warning). Logged keys:
    ``<prefix>/<metric>`` for each of ``depth_metrics`` (default all of mmseg's: d1, d2, d3,
    abs_rel, sq_rel, rmse, rmse_log, log10, silog), in metres and fractions.

    In a runner it records each image's values of every logged metric
    (:func:`engine.records.write_means`), keyed ``'<rgb path relative to data_root>#<digest>'``
    where the digest is :func:`engine.records.label_map_digest` of the ground truth in integer
    millimetres: NYU's file names repeat across scenes, and two runs are compared image by image
    only on the same ground truth.

    Args:
        depth_metrics: the metrics to log, a subset of ``DepthMetric.METRICS``.
        min_depth_eval, max_depth_eval: ground truth evaluated strictly between them (metres).
        crop_type: ``'nyu_crop'`` (the Eigen crop, on 480x640 ground truths only) or None.
        **kwargs: ``collect_device`` and ``prefix``, as mmseg's.
    """

    def __init__(self, depth_metrics: Optional[Sequence[str]] = None,
                 min_depth_eval: float = 1e-3, max_depth_eval: float = 10.0,
                 crop_type: Optional[str] = 'nyu_crop', **kwargs) -> None:
        for option in ('output_dir', 'format_only'):
            if kwargs.get(option):
                raise ValueError(f'DepthMetricWithRecords: {option} is not supported (it '
                                 'evaluates, and writes no predictions)')
        # mmseg's check of depth_metrics raises on any list (isinstance with a list of types)
        super().__init__(None, min_depth_eval, max_depth_eval, crop_type, **kwargs)
        if depth_metrics is not None:
            unknown = sorted(set(depth_metrics) - set(self.METRICS))
            if unknown or not depth_metrics:
                raise ValueError(f'DepthMetricWithRecords: depth_metrics {list(depth_metrics)}; '
                                 f'choose among {list(self.METRICS)}')
            self.metrics = tuple(depth_metrics)

    def _get_eval_mask(self, gt_depth: torch.Tensor) -> torch.Tensor:
        valid = (gt_depth > self.min_depth_eval) & (gt_depth < self.max_depth_eval)
        if self.crop_type != 'nyu_crop':
            return valid
        if tuple(gt_depth.shape) != NYU_SHAPE:
            raise ValueError(f'the Eigen crop (nyu_crop) is defined on {NYU_SHAPE} ground truths, '
                             f'got {tuple(gt_depth.shape)}')
        crop = torch.zeros_like(valid)
        crop[_EIGEN_CROP] = True
        return valid & crop

    def _image_metrics(self, sample: dict) -> Tuple[Dict[str, float], np.ndarray]:
        """One image's metrics over its evaluated pixels (NaN where it has none) and its ground
        truth on the CPU."""
        # in float32 whatever the model's precision: the ground truth keeps its millimetres
        pred = sample['pred_depth_map']['data'].squeeze().float()
        gt = sample['gt_depth_map']['data'].squeeze().to(pred.device, torch.float32)
        if pred.shape != gt.shape:
            raise ValueError(f'{sample.get("img_path")}: predicted depth {tuple(pred.shape)} and '
                             f'ground truth {tuple(gt.shape)} differ in size')
        mask = self._get_eval_mask(gt)
        if not bool(mask.any()):
            warnings.warn(f'{sample.get("img_path")}: no ground-truth pixel to evaluate; the image '
                          'is left out of the mean', stacklevel=3)
            return {name: float('nan') for name in self.metrics}, gt.cpu().numpy()
        values = self._calc_all_metrics(gt[mask], pred[mask])
        return {name: values[name] for name in self.metrics}, gt.cpu().numpy()

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        # each result carries its image's path and ground-truth digest, so that they are
        # gathered across processes with the metrics
        for sample in data_samples:
            values, gt = self._image_metrics(sample)
            self.results.append((values, sample['img_path'],
                                 records.label_map_digest(np.round(gt * _MM_PER_M))))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        per_image = {name: np.array([r[0][name] for r in results], dtype=np.float64)
                     for name in self.metrics}
        with warnings.catch_warnings():  # all NaN: no image to evaluate, NaN is the answer
            warnings.simplefilter('ignore', RuntimeWarning)
            metrics = {name: float(np.nanmean(v)) for name, v in per_image.items()}
        folder = records.current_records_dir()
        if folder is not None and results:
            paths = records.relative_paths([r[1] for r in results],
                                           (self.dataset_meta or {}).get('data_root'))
            keys = [f'{p}#{r[2]}' for p, r in zip(paths, results)]
            records.write_means(
                folder, self.prefix, keys,
                {records.logged_key(self.prefix, n): v for n, v in per_image.items()},
                {records.logged_key(self.prefix, n): v for n, v in metrics.items()},
                pairing='path#gt_sha256')
        return metrics
