"""Pretraining data: an image-folder dataset and a batch sampler that tags batches with their step.

Every random choice of the input pipeline (the crop and the masks) is seeded by the training step,
so a run resumed at step k sees exactly the batches an uninterrupted run sees from step k on,
without re-reading the k batches before it.
"""
import os
import os.path as osp
import warnings
from typing import Iterator, List, Optional, Tuple, Union

import torch
from mmengine.dataset import DefaultSampler
from mmengine.registry import DATA_SAMPLERS, DATASETS
from torch.utils.data import Dataset
from torchvision.transforms.v2 import RandomResizedCrop

from engine.files import IMAGE_EXTENSIONS, read_bytes, read_rgb_array, rgb_jpeg_size

from .device_decode import EncodedCrop, resized_crop
from .seeds import derive_seed

__all__ = ['ImageFolderDataset', 'StepBatchSampler', 'IMAGE_EXTENSIONS']


def _images_under(folder: str) -> List[str]:
    return sorted(osp.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


@DATASETS.register_module()
class ImageFolderDataset(Dataset):
    """Images from ``data_root/split`` in the ImageNet layout (``<class>/<image>``) or flat.

    Args:
        data_root: dataset root, e.g. ``data/imagenet``.
        split: sub-folder (``train``); ``''`` reads ``data_root`` itself.
        crop_size, crop_scale: RandomResizedCrop, the only augmentation of I-JEPA pretraining.
        seed: with the step and the index, fixes each sample's crop.
        decode: ``'cpu'``: the data worker decodes and crops; ``'device'``: the worker reads a JPEG
            and draws its crop box from the header, and the model's
            :class:`~pretrain.device_decode.DecodingDataPreprocessor` decodes it on the device
            (other files are still decoded by the worker).

    Images are decoded by :func:`engine.files.read_rgb_array` (JPEGs by libjpeg-turbo straight into
    an array; 16-bit grey images keep their high byte) and the crop is resized from a view of the
    decoded (H, W, 3) array, whose channels-last layout takes torch's fast antialiased uint8 resize.
    The crop box is torchvision's ``RandomResizedCrop`` draw, seeded by the sample, so both ways of
    decoding crop the same boxes.
    Unreadable images (empty, truncated, not images) are skipped with a warning that names them (the
    next image is used instead) and reported in the batch as ``skipped``, so the run can count them.
    """

    DECODE = ('cpu', 'device')

    def __init__(self, data_root: str, split: str = 'train', crop_size: int = 224,
                 crop_scale: Tuple[float, float] = (0.3, 1.0), seed: int = 0,
                 decode: str = 'cpu') -> None:
        if decode not in self.DECODE:
            raise ValueError(f'decode={decode!r}: expected one of {self.DECODE}')
        self.root = osp.join(data_root, split) if split else data_root
        layout = (f'{self.root}/<class>/<image> (ImageNet layout, e.g. '
                  f'data/imagenet/train/n01440764/x.JPEG) or a flat folder {self.root}/<image>')
        if not osp.isdir(self.root):
            raise FileNotFoundError(f'image folder {self.root} not found; expected {layout}')
        classes = sorted(d for d in os.listdir(self.root) if osp.isdir(osp.join(self.root, d)))
        self.classes = classes
        self.samples: List[Tuple[str, int]] = [(p, -1) for p in _images_under(self.root)]
        for label, name in enumerate(classes):
            self.samples += [(p, label) for p in _images_under(osp.join(self.root, name))]
        if not self.samples:
            raise FileNotFoundError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {self.root}; '
                                    f'expected {layout}')
        self.crop = RandomResizedCrop(crop_size, scale=crop_scale, antialias=True)
        self.seed = seed
        self.decode = decode

    def __len__(self) -> int:
        return len(self.samples)

    def _read(self, path: str) -> Tuple[Union[torch.Tensor, bytes], Tuple[int, int]]:
        """The decoded (3, H, W) image, or with ``decode='device'`` a JPEG's bytes, and (H, W)."""
        if self.decode == 'device':
            data = read_bytes(path)
            size = rgb_jpeg_size(data)
            if size:
                return data, size
        img = torch.from_numpy(read_rgb_array(path)).permute(2, 0, 1)  # channels-last memory
        return img, tuple(img.shape[-2:])

    def _load(self, index: int) -> Tuple[str, Union[torch.Tensor, bytes], Tuple[int, int], int,
                                         List[str]]:
        skipped = []
        for offset in range(len(self.samples)):
            path, label = self.samples[(index + offset) % len(self.samples)]
            try:
                return (path, *self._read(path), label, skipped)
            except OSError as err:  # the message names the file
                warnings.warn(f'skipping {err}', stacklevel=1)
                skipped.append(path)
        raise RuntimeError(f'none of the {len(self.samples)} images under {self.root} can be read')

    def crop_box(self, size: Tuple[int, int], index: int,
                 step: Optional[int]) -> Tuple[int, int, int, int]:
        """The crop (top, left, height, width) of sample ``index`` at ``step`` in an image of
        ``size`` (H, W): torchvision's ``RandomResizedCrop`` draw, from a seed fixed by both."""
        with torch.random.fork_rng(devices=[]):  # RandomResizedCrop draws from the global CPU RNG
            # the CPU generator alone: torch.manual_seed also queues seeds for every accelerator
            # type, recording a stack trace each time while none is initialised (most of the time
            # of a sample, in a data worker)
            torch.default_generator.manual_seed(
                derive_seed(self.seed, index, 0 if step is None else step + 1))
            box = self.crop.make_params([torch.empty(()).expand(1, *size)])  # reads the size only
        return box['top'], box['left'], box['height'], box['width']

    def __getitem__(self, key: Union[int, Tuple[int, int]]) -> dict:
        """``key`` is an index, or ``(index, step)`` from :class:`StepBatchSampler`."""
        index, step = key if isinstance(key, tuple) else (key, None)
        path, image, size, label, skipped = self._load(index)
        box = self.crop_box(size, index, step)
        if isinstance(image, bytes):
            img = EncodedCrop(torch.frombuffer(bytearray(image), dtype=torch.uint8), path, box,
                              tuple(self.crop.size))
        else:
            img = resized_crop(image, box, self.crop.size)
        return dict(img=img, label=label, step=step, skipped=skipped)


@DATA_SAMPLERS.register_module()
class StepBatchSampler:
    """Endless batches of ``(index, step)`` keys, epoch after epoch, that can start at any step.

    Wraps mmengine's :class:`DefaultSampler` (shuffled by seed and epoch, split across ranks) and
    drops the last incomplete batch. ``len()`` is the number of batches in one epoch.
    """

    def __init__(self, sampler: DefaultSampler, batch_size: int, drop_last: bool = True) -> None:
        if not drop_last:
            raise ValueError('pretraining needs full batches: StepBatchSampler drops the last one')
        self.sampler = sampler
        self.batch_size = batch_size
        self.start_step = 0
        if len(self) == 0:
            raise ValueError(f'{len(sampler)} samples per rank cannot fill one batch of '
                             f'{batch_size}')

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size

    def set_start_step(self, step: int) -> None:
        """The next iteration starts at training step ``step`` (used on resume)."""
        self.start_step = step

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        per_epoch = len(self)
        epoch, skip = divmod(self.start_step, per_epoch)
        while True:
            self.sampler.set_epoch(epoch)
            indices = list(self.sampler)
            for b in range(skip, per_epoch):
                step = epoch * per_epoch + b
                yield [(i, step) for i in indices[b * self.batch_size:(b + 1) * self.batch_size]]
            epoch, skip = epoch + 1, 0
