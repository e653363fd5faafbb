"""Loading transforms whose errors name the file they read, for the COCO and ADE20K pipelines.

mmcv's ``LoadImageFromFile`` decodes with OpenCV, whose error for an empty file does not name it,
and mmseg's ``LoadAnnotations`` decodes label maps with Pillow, whose errors do not name the file
either; it also casts the labels to uint8 and shifts them (``reduce_zero_label``), so a label
outside the dataset's classes surfaces only as an index error in the loss. The subclasses here name
the file in every read or decode error and check the labels as they are stored.
"""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import TRANSFORMS as MMCV_TRANSFORMS
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS

from engine.files import unreadable_image

__all__ = ['LoadImageFromFileChecked', 'LoadSegAnnotationsChecked', 'read_map']

_SHOWN_VALUES = 10  # offending label values listed in an error


def read_map(path: str, backend_args: Optional[dict], backend: str) -> np.ndarray:
    """A label or depth map as stored (mmcv's ``'unchanged'`` decode: its own integer type and
    channels); an ``OSError`` naming the file where it cannot be read or decoded."""
    try:
        data = mmcv.imfrombytes(fileio.get(path, backend_args=backend_args), flag='unchanged',
                                backend=backend)
        if data is None:  # OpenCV's way of saying it could not decode the bytes
            raise ValueError('the decoder returned no image')
    except Exception as err:  # the decoders' errors do not name the file
        raise unreadable_image(path, err) from err
    return data


# mmcv's registry, the parent of mmdet's and mmseg's: both scopes find it, as they find mmcv's own
@MMCV_TRANSFORMS.register_module()
class LoadImageFromFileChecked(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that raises ``OSError`` naming the image when it cannot be read
    or decoded (missing, empty, truncated or not an image)."""

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except Exception as err:  # cv2.error, Pillow's errors, mmcv's assertion on a failed decode
            raise unreadable_image(results['img_path'], err) from err


@MMSEG_TRANSFORMS.register_module()
class LoadSegAnnotationsChecked(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that names the label map in read and decode errors and refuses
    label values outside ``0..max_label`` as stored in the file (before the uint8 cast and
    ``reduce_zero_label``). For ADE20K ``max_label=150``: 0 is ignored, ``k`` is class ``k - 1``.

    Args:
        max_label: the largest label value a file may hold.
        **kwargs: the arguments of mmseg's ``LoadAnnotations``.
    """

    def __init__(self, max_label: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_label = max_label

    def _read_labels(self, path: str) -> np.ndarray:
        """The label map at ``path`` as stored, decoded as mmseg's loader decodes it."""
        return read_map(path, self.backend_args, self.imdecode_backend).squeeze()

    def _check_labels(self, labels: np.ndarray, path: str) -> None:
        if labels.ndim != 2:
            raise ValueError(f'label map {path} has shape {labels.shape}; expected one channel of '
                             f'label values 0..{self.max_label}')
        if labels.min() < 0 or labels.max() > self.max_label:
            bad = np.unique(labels[(labels < 0) | (labels > self.max_label)])
            raise ValueError(f'label map {path} holds values {bad[:_SHOWN_VALUES].tolist()}'
                             f'{" ..." if len(bad) > _SHOWN_VALUES else ""} outside the allowed '
                             f'range 0..{self.max_label}')

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        self._check_labels(self._read_labels(path), path)
        # mmseg's loader reads the file again: the check needs the values before its uint8 cast
        super()._load_seg_map(results)
