"""Pipeline transforms of the classification transfer datasets (configs/_base_/datasets/
classification_224.py), on HxWx3 uint8 RGB arrays.

Training: :class:`LoadRGBImage`, :class:`RandomResizedCrop`, mmcv's ``RandomFlip``,
:class:`PackProbeInputs`; testing: :class:`LoadRGBImage`, :class:`ResizeShortEdge`, mmcv's
``CenterCrop``, :class:`PackProbeInputs`. The resizes are Pillow's (bicubic reduces with
antialiasing), so they give exactly what torchvision's ``RandomResizedCrop`` / ``Resize`` give on
the same PIL image and crop box. The random crop draws from torch's generator, as torchvision does,
which mmengine seeds per dataloader worker.

Recipes built on timm's augmentation (full fine-tuning, SPEC section 4d; the attentive probe) run
:class:`LoadRGBImage`, then :class:`PackTimmInputs`, timm's own transform.
"""
from typing import Any, Sequence, Tuple, Union

import numpy as np
import torch
import torchvision.transforms as T
from mmcv.transforms import TRANSFORMS, BaseTransform
from PIL import Image
from timm.data import create_transform

from engine.files import read_rgb

__all__ = ['LoadRGBImage', 'RandomResizedCrop', 'ResizeShortEdge', 'PackProbeInputs',
           'PackTimmInputs', 'short_edge_size']

_INTERPOLATIONS = {'nearest': Image.Resampling.NEAREST, 'bilinear': Image.Resampling.BILINEAR,
                   'bicubic': Image.Resampling.BICUBIC, 'lanczos': Image.Resampling.LANCZOS,
                   'box': Image.Resampling.BOX, 'hamming': Image.Resampling.HAMMING}


def _resampling(name: str) -> Image.Resampling:
    if name not in _INTERPOLATIONS:
        raise KeyError(f'unknown interpolation {name!r}; choose one of {sorted(_INTERPOLATIONS)}')
    return _INTERPOLATIONS[name]


def _pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``size`` as (height, width): an int is a square."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _set_image(results: dict, img: Image.Image) -> dict:
    results['img'] = np.array(img)  # a copy: arrays viewing Pillow's buffer are read-only
    results['img_shape'] = results['img'].shape[:2]
    return results


def short_edge_size(height: int, width: int, size: int) -> Tuple[int, int]:
    """(height, width) with the shorter side ``size``: torchvision's ``Resize(size)``, whose longer
    side is ``int(size * long / short)`` (truncated)."""
    if width <= height:
        return int(size * height / width), size
    return size, int(size * width / height)


# mmcv's TRANSFORMS is mmengine's root TRANSFORMS registry (mmcv re-exports it), so these build
# under every default_scope: 'mmengine' (the probes' runtime) and the mmdet / mmseg child scopes,
# which search their parent after themselves.
@TRANSFORMS.register_module()
class LoadRGBImage(BaseTransform):
    """Reads ``results['img_path']`` with :func:`engine.files.read_rgb` (an unreadable file raises
    ``OSError`` naming it) into ``results['img']``, an HxWx3 uint8 RGB array; sets ``img_shape``
    and ``ori_shape``."""

    def transform(self, results: dict) -> dict:
        _set_image(results, read_rgb(results['img_path']))
        results['ori_shape'] = results['img_shape']
        return results


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """torchvision's ``RandomResizedCrop``: a crop of a random area fraction in ``scale`` and aspect
    ratio in ``ratio`` (the box of torchvision's ``get_params``, drawn from torch's generator),
    resized to ``size`` by Pillow.

    Args:
        size: the output size, an int (square) or (height, width).
        scale: the range of the crop's area as a fraction of the image's.
        ratio: the range of the crop's width / height.
        interpolation: a Pillow filter name: 'bicubic', 'bilinear', 'nearest', ...
    """

    def __init__(self, size: Union[int, Sequence[int]] = 224,
                 scale: Sequence[float] = (0.08, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3),
                 interpolation: str = 'bicubic') -> None:
        if not (scale[0] <= scale[1] and ratio[0] <= ratio[1]):
            raise ValueError(f'RandomResizedCrop: scale {scale} and ratio {ratio} must be '
                             '(min, max) ranges')
        self.size, self.scale, self.ratio = _pair(size), tuple(scale), tuple(ratio)
        self.interpolation = interpolation
        self._filter = _resampling(interpolation)

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(results['img'])
        top, left, h, w = T.RandomResizedCrop.get_params(img, list(self.scale), list(self.ratio))
        crop = img.crop((left, top, left + w, top + h))
        return _set_image(results, crop.resize(self.size[::-1], self._filter))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class ResizeShortEdge(BaseTransform):
    """Resizes the shorter side to ``size``, keeping the aspect ratio as torchvision's
    ``Resize(size)`` does (see :func:`short_edge_size`), with a Pillow filter."""

    def __init__(self, size: int = 256, interpolation: str = 'bicubic') -> None:
        self.size, self.interpolation = size, interpolation
        self._filter = _resampling(interpolation)

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        new = short_edge_size(height, width, self.size)
        if new == (height, width):  # torchvision returns the image as it is
            return results
        return _set_image(results, Image.fromarray(results['img']).resize(new[::-1], self._filter))

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, interpolation={self.interpolation!r})'


def _check_rgb(results: dict, transform: str) -> np.ndarray:
    """``results['img']``, refused unless it is an HxWx3 uint8 array."""
    img = results['img']
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'{transform} expects an HxWx3 uint8 image, got {img.dtype} '
                         f'{img.shape} from {results.get("img_path")}')
    return img


def _label(results: dict) -> torch.Tensor:
    return torch.tensor(results['gt_label'], dtype=torch.int64)


@TRANSFORMS.register_module()
class PackProbeInputs(BaseTransform):
    """``dict(inputs=uint8 (3, H, W) tensor, data_samples=int64 label tensor)``, the items
    :class:`~transfer.probe.LinearProbe` reads after ``default_collate``."""

    def transform(self, results: dict) -> dict:
        img = _check_rgb(results, 'PackProbeInputs')
        pixels = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return dict(inputs=pixels, data_samples=_label(results))


@TRANSFORMS.register_module()
class PackTimmInputs(BaseTransform):
    """timm's ``create_transform(**kwargs)`` applied to the image as a PIL image, packed as
    ``dict(inputs=float32 (3, H, W) tensor normalised by timm, data_samples=int64 label tensor)``.

    ``kwargs`` are ``create_transform``'s: e.g. ``input_size``, ``is_training``, ``auto_augment``
    (``'rand-m9-mstd0.5-inc1'``), ``interpolation``, ``re_prob``, ``re_mode``, ``crop_pct``;
    ``mean`` and ``std`` default to ImageNet's, which the suite's uint8 path
    (:func:`transfer.features.normalise`) also uses. The transform draws from Python's, numpy's and
    torch's generators, as timm's does, which mmengine seeds per dataloader worker. The models take
    float inputs as normalised already (:func:`transfer.features.probe_features`).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.timm_transform = create_transform(**kwargs)

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(_check_rgb(results, 'PackTimmInputs'))
        return dict(inputs=self.timm_transform(img), data_samples=_label(results))

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.timm_transform})'
