"""Decoding the pretraining JPEGs on the training device: ``decode='device'`` in
:class:`~pretrain.data.ImageFolderDataset`.

A data worker then only reads each file and draws its crop box from the header's size, which leaves
decoding, the costly part of the input pipeline, to torchvision's ``decode_jpeg`` on the device
(nvJPEG on a GPU, libjpeg-turbo on the CPU). :class:`DecodingDataPreprocessor`, the pretraining
configs' data preprocessor, decodes such a batch in one call, cuts each crop and resizes it with
the same antialiased bilinear resize as the worker's path, then normalises as mmengine's
``ImgDataPreprocessor`` does; batches decoded by the workers pass straight through.
"""
import warnings
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torchvision.transforms.v2.functional as TF
from mmengine.logging import MMLogger
from mmengine.model import ImgDataPreprocessor
from mmengine.registry import MODELS
from torchvision.io import ImageReadMode, decode_jpeg

__all__ = ['EncodedCrop', 'DecodingDataPreprocessor', 'decode_crops', 'resized_crop']


class EncodedCrop(NamedTuple):
    """A JPEG that a data worker left encoded: the file's bytes, where it came from, the crop box
    ``(top, left, height, width)`` drawn for it, and the ``(height, width)`` the crop is resized
    to."""
    data: torch.Tensor
    path: str
    box: Tuple[int, int, int, int]
    size: Tuple[int, int]


def resized_crop(image: torch.Tensor, box: Sequence[int], size: Sequence[int]) -> torch.Tensor:
    """The ``box`` (top, left, height, width) of a (3, H, W) uint8 image resized to ``size`` with
    antialiased bilinear interpolation, uint8 (on the CPU torch's integer kernel, elsewhere float
    rounded back)."""
    return TF.resized_crop(image, *box, list(size), antialias=True)


def _decode_all(files: List[torch.Tensor], device: torch.device) -> List[Optional[torch.Tensor]]:
    """Each JPEG decoded to (3, H, W) uint8 RGB on ``device``; None for one that cannot be."""
    if not files:
        return []
    try:
        return decode_jpeg(files, mode=ImageReadMode.RGB, device=device)
    except RuntimeError:  # one damaged file fails the whole call: find it
        images = []
        for data in files:
            try:
                images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                images.append(None)
        return images


def decode_crops(items: List[Union[torch.Tensor, EncodedCrop]],
                 device: torch.device) -> Tuple[torch.Tensor, List[str]]:
    """The batch of crops (B, 3, h, w) uint8 on ``device`` from a batch's items: crops the workers
    made, and :class:`EncodedCrop` decoded here in one call. An encoded image that cannot be decoded
    is replaced by another crop of the batch, with a warning naming it; its path is returned."""
    encoded = [i for i, item in enumerate(items) if isinstance(item, EncodedCrop)]
    images = _decode_all([items[i].data for i in encoded], device)
    crops: List[Optional[torch.Tensor]] = [
        None if isinstance(item, EncodedCrop) else item.to(device, non_blocking=True)
        for item in items]
    unreadable = []
    for i, image in zip(encoded, images):
        if image is None:
            unreadable.append(items[i].path)
            warnings.warn(f'skipping unreadable image {items[i].path}: decode_jpeg on {device} '
                          'failed; another crop of its batch takes its place', stacklevel=1)
        else:
            crops[i] = resized_crop(image, items[i].box, items[i].size)
    readable = [c for c in crops if c is not None]
    if not readable:
        raise RuntimeError(f'no image of this batch can be decoded: {unreadable}')
    return torch.stack([readable[0] if c is None else c for c in crops]), unreadable


@MODELS.register_module()
class DecodingDataPreprocessor(ImgDataPreprocessor):
    """mmengine's ``ImgDataPreprocessor`` that first decodes, on its device, the crops a dataset
    left encoded (a batch whose ``inputs`` is a list of crops and :class:`EncodedCrop`).

    Images that cannot be decoded are added to the batch's ``data_samples['skipped']`` (in place,
    so :class:`~pretrain.hooks.PretrainLogHook` counts them as it counts the workers' ones).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._announced = False

    def forward(self, data: dict, training: bool = False) -> dict:
        if isinstance(data['inputs'], list):
            if not self._announced:  # the log says where the run decodes
                encoded = sum(isinstance(item, EncodedCrop) for item in data['inputs'])
                MMLogger.get_current_instance().info(
                    f'decoding JPEGs on {self.device} with torchvision decode_jpeg: {encoded} of '
                    f'the {len(data["inputs"])} images of the first batch')
                self._announced = True
            inputs, unreadable = decode_crops(data['inputs'], self.device)
            data['data_samples']['skipped'].extend(unreadable)
            data = dict(data, inputs=inputs)
        return super().forward(data, training)
