"""File readers shared by pretraining and the transfer tasks; every failure names its file.

:func:`read_rgb` decodes an image with Pillow into 8-bit RGB. Pillow reads 16-bit RGB, RGBA and
grey+alpha PNGs as 8-bit images already (the high byte of each sample), but a 16-bit grey image
opens in mode ``I;16`` (``I`` in older Pillow), which ``convert('RGB')`` clips to white; those keep
their high byte instead, which is what OpenCV's ``IMREAD_COLOR`` gives. :func:`load_json` parses a
JSON file and names it when the text is not JSON.
"""
import json
from typing import Any

import numpy as np
from PIL import Image

__all__ = ['IMAGE_EXTENSIONS', 'load_json', 'read_rgb', 'unreadable_image']

#: File name endings (lower case) of the images an image folder lists: torchvision's ImageFolder's.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.ppm', '.pgm')

# Pillow's modes of one-channel images wider than 8 bits: 16-bit PNG and TIFF, 32-bit integer TIFF.
_WIDE_GREY_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I')
_MAX_16BIT = 65535


def unreadable_image(path: str, err: BaseException) -> OSError:
    """The error to raise (``from err``) for an image file that cannot be read or decoded."""
    return OSError(f'unreadable image {path}: {type(err).__name__}: {err}')


def _grey_high_byte(img: Image.Image) -> Image.Image:
    """A 16-bit grey image as 8-bit grey: the high byte of each sample."""
    samples = np.asarray(img)
    low, high = int(samples.min()), int(samples.max())
    if low < 0 or high > _MAX_16BIT:  # only mode 'I' (32-bit) can hold these
        raise ValueError(f'mode {img.mode} samples span {low}..{high}; expected 16-bit values '
                         f'0..{_MAX_16BIT}')
    return Image.fromarray((samples >> 8).astype(np.uint8))


def read_rgb(path: str) -> Image.Image:
    """The image at ``path`` as 8-bit RGB, decoded by Pillow.

    8-bit images are ``Image.convert('RGB')`` of what Pillow reads; 16-bit grey images keep the
    high byte of each sample. A file that cannot be read or decoded (missing, empty, truncated, not
    an image) raises ``OSError`` naming it.
    """
    try:
        with Image.open(path) as img:
            if img.mode in _WIDE_GREY_MODES:
                return _grey_high_byte(img).convert('RGB')
            return img.convert('RGB')
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise unreadable_image(path, err) from err


def load_json(path: str) -> Any:
    """The JSON document in ``path``; a file that is not JSON raises ``ValueError`` naming it."""
    with open(path, 'rb') as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as err:  # JSONDecodeError (it gives line and column) or UnicodeDecodeError
        raise ValueError(f'{path} is not valid JSON: {err}') from err
