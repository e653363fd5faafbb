"""File readers shared by pretraining and the transfer tasks; every failure names its file.

:func:`read_rgb` decodes an image with Pillow into 8-bit RGB. Pillow reads 16-bit RGB, RGBA and
grey+alpha PNGs as 8-bit images already (the high byte of each sample), but a 16-bit grey image
opens in mode ``I;16`` (``I`` in older Pillow), which ``convert('RGB')`` clips to white; those keep
their high byte instead, which is what OpenCV's ``IMREAD_COLOR`` gives. :func:`read_rgb_array` gives
the same pixels as an array, decoding JPEGs with libjpeg-turbo through simplejpeg, straight into the
array. :func:`load_json` parses a JSON file and names it when the text is not JSON.
"""
import json
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np
import simplejpeg
from PIL import Image

__all__ = ['DataLayout', 'IMAGE_EXTENSIONS', 'load_json', 'read_bytes', 'read_rgb',
           'read_rgb_array', 'rgb_jpeg_size', 'unreadable_image']

#: File name endings (lower case) of the images an image folder lists: torchvision's ImageFolder's.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.ppm', '.pgm')

#: The first bytes of every JPEG file (the start-of-image marker).
JPEG_SIGNATURE = b'\xff\xd8'
# The JPEG colour spaces (simplejpeg's names) that libjpeg-turbo converts to RGB itself.
_RGB_DECODABLE = ('YCbCr', 'Gray', 'RGB')

# Pillow's modes of one-channel images wider than 8 bits: 16-bit PNG and TIFF, 32-bit integer TIFF.
_WIDE_GREY_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I')
_MAX_16BIT = 65535


@dataclass(frozen=True)
class DataLayout:
    """A real dataset's standard layout, for the error of a file or folder of it that is missing:
    the layout, the environment variable that points the configs at a real copy and the command
    that writes a small synthetic one."""
    name: str       # e.g. 'COCO'
    tree: str       # the layout under data_root, drawn one path a line
    root_env: str   # the variable the configs read the real copy's root from, e.g. 'COCO_ROOT'
    holds: str      # what that root holds, in words
    generator: str  # the dataset's name in tools/make_synthetic_data.py
    default_root: str = ''  # the configs' data_root without the variable; data/<generator> if ''

    def missing(self, what: str, path: str, data_root: str,
                root_env: Optional[str] = None) -> FileNotFoundError:
        """The error for ``path`` (``what`` it is) missing under ``data_root``. A config that read
        its data_root from another variable (the synthetic smoke configs' ``SYNTH_*_ROOT``) names
        it in ``root_env``: the message names the variable that config reads."""
        target = data_root if root_env else (self.default_root or f'data/{self.generator}')
        return FileNotFoundError(
            f'{self.name} {what} not found: {path}\nExpected this layout under data_root '
            f'({data_root or "."}):\n{self.tree}\nPoint the config at your copy with the '
            f'{root_env or self.root_env} environment variable ({self.holds}), or write a small '
            f'synthetic one with: python tools/make_synthetic_data.py {self.generator} {target}')


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


def read_bytes(path: str) -> bytes:
    """The contents of the file at ``path``; ``OSError`` naming it when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as err:
        raise unreadable_image(path, err) from err


def rgb_jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(height, width) of the JPEG in ``data`` when libjpeg-turbo can decode it to RGB by itself
    (YCbCr and grey JPEGs: nearly all); None for anything else (CMYK JPEGs, other formats, headers
    it cannot parse). Only the header is read."""
    if not data.startswith(JPEG_SIGNATURE):
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    return (height, width) if colorspace in _RGB_DECODABLE else None


def read_rgb_array(path: str) -> np.ndarray:
    """The image at ``path`` as an (H, W, 3) uint8 array, the pixels of :func:`read_rgb`.

    JPEGs that :func:`rgb_jpeg_size` accepts are decoded by libjpeg-turbo through simplejpeg
    straight into the array, which spares Pillow's image object and its copies; Pillow's wheels
    decode with the same libjpeg-turbo, so the pixels are identical. Every other file (PNG, CMYK
    JPEGs, damaged JPEGs) goes through :func:`read_rgb`, which raises ``OSError`` naming a file it
    cannot read.
    """
    data = read_bytes(path)
    if rgb_jpeg_size(data):
        try:
            return simplejpeg.decode_jpeg(data, colorspace='RGB')
        except ValueError:  # damaged after its header: Pillow's error names the file below
            pass
    return np.array(read_rgb(path))  # writable, as torch.from_numpy wants


def load_json(path: str) -> Any:
    """The JSON document in ``path``; a file that is not JSON raises ``ValueError`` naming it."""
    with open(path, 'rb') as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as err:  # JSONDecodeError (it gives line and column) or UnicodeDecodeError
        raise ValueError(f'{path} is not valid JSON: {err}') from err
