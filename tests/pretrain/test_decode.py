"""The pretraining input pipeline's decoding: libjpeg-turbo through simplejpeg gives Pillow's
pixels, the crop is torchvision's RandomResizedCrop, and decoding on the device
(``decode='device'``, run here on the CPU) gives the same batches as decoding in the workers."""
import os
import re

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.transforms.v2 import RandomResizedCrop

from backbones.safe_checkpoint import load_from_local_safely
from tests.helpers import run_pretraining
from engine.files import read_rgb, read_rgb_array, rgb_jpeg_size
from pretrain import DecodingDataPreprocessor, EncodedCrop, ImageFolderDataset, multiblock_collate
from pretrain.seeds import derive_seed
from benchmarks.data import make_photos

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def save(path, mode: str, fmt: str = 'JPEG', **options) -> str:
    """A 37x53 picture with detail in every channel, converted to ``mode`` and saved as ``fmt``."""
    y, x = np.mgrid[:37, :53]
    pixels = np.stack([x * 4, y * 6, (x * y) % 256], -1).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, fmt, **options)
    return str(path)


@pytest.fixture(scope='module')
def photos(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('photos'))
    make_photos(root, 6, seed=0)
    return root


@pytest.mark.parametrize('mode, fmt, options', [
    ('RGB', 'JPEG', {}), ('RGB', 'JPEG', dict(subsampling=0, quality=95)),
    ('RGB', 'JPEG', dict(progressive=True)), ('L', 'JPEG', {}), ('CMYK', 'JPEG', {}),
    ('RGB', 'PNG', {}), ('P', 'PNG', {})],
    ids=['420', '444', 'progressive', 'grey', 'cmyk', 'png', 'palette_png'])
def test_read_rgb_array_gives_pillows_pixels(tmp_path, mode, fmt, options):
    path = save(tmp_path / 'x.jpg', mode, fmt, **options)  # a PNG named .jpg is read as a PNG
    with open(path, 'rb') as f:
        decodable = rgb_jpeg_size(f.read())
    assert decodable == ((37, 53) if fmt == 'JPEG' and mode != 'CMYK' else None)
    array = read_rgb_array(path)
    assert array.shape == (37, 53, 3) and array.dtype == np.uint8 and array.flags.writeable
    assert np.array_equal(array, np.asarray(read_rgb(path)))


def cut_photo(photos: str, path) -> str:
    """The first half of a photo's JPEG, written to ``path``: its header reads, its data ends
    early."""
    folder = os.path.join(photos, 'train', 'astronaut')
    with open(os.path.join(folder, sorted(os.listdir(folder))[0]), 'rb') as f:
        data = f.read()
    path.write_bytes(data[:len(data) // 2])
    assert rgb_jpeg_size(path.read_bytes())
    return str(path)


def test_read_rgb_array_names_files_it_cannot_read(photos, tmp_path):
    cut = cut_photo(photos, tmp_path / 'cut.jpg')
    for path in (cut, tmp_path / 'missing.jpg'):
        with pytest.raises(OSError, match=f'unreadable image {re.escape(str(path))}'):
            read_rgb_array(str(path))


def test_samples_are_torchvisions_random_resized_crop_of_pillows_decoding(photos):
    """The reference: torchvision's RandomResizedCrop on Pillow's image, under the sample's seed."""
    ds = ImageFolderDataset(photos, crop_size=96, crop_scale=(0.3, 1.0), seed=3)
    reference = RandomResizedCrop(96, scale=(0.3, 1.0), antialias=True)
    for index, step in ((0, 0), (1, 7), (5, 2), (5, 3)):
        with Image.open(ds.samples[index][0]) as img:
            pixels = TF.pil_to_tensor(img.convert('RGB'))
        torch.manual_seed(derive_seed(3, index, step + 1))
        assert torch.equal(ds[(index, step)]['img'], reference(pixels))


def link_photos(photos: str, root, count: int):
    """A flat folder ``root/train`` with links to the photos of the first ``count`` classes."""
    (root / 'train').mkdir(parents=True)
    for name in sorted(os.listdir(os.path.join(photos, 'train')))[:count]:
        folder = os.path.join(photos, 'train', name)
        for i, image in enumerate(sorted(os.listdir(folder))):
            os.link(os.path.join(folder, image), root / 'train' / f'{name}{i}.jpg')
    return root


def batch(ds: ImageFolderDataset, keys) -> dict:
    return multiblock_collate([ds[k] for k in keys], seed=0, input_size=96, patch_size=8)


def test_decoding_on_the_device_gives_the_workers_batches(photos, tmp_path):
    # a PNG and a CMYK JPEG among the photos: the workers decode those in either mode
    root = link_photos(photos, tmp_path / 'mixed', len(os.listdir(os.path.join(photos, 'train'))))
    save(root / 'train' / 'png.png', 'RGB', 'PNG')
    save(root / 'train' / 'cmyk.jpg', 'CMYK')
    on_cpu, on_device = (ImageFolderDataset(str(root), crop_size=96, decode=d)
                         for d in ('cpu', 'device'))
    keys = [(i, 4) for i in range(len(on_cpu))]
    workers, left = batch(on_cpu, keys), batch(on_device, keys)
    encoded = [isinstance(img, EncodedCrop) for img in left['inputs']]
    not_jpeg = ('png.png', 'cmyk.jpg')
    assert sum(encoded) == len(keys) - 2 and not any(
        e for e, (path, _) in zip(encoded, on_cpu.samples) if path.endswith(not_jpeg))
    preprocessor = DecodingDataPreprocessor(mean=MEAN, std=STD)
    expected = preprocessor(workers, True)['inputs']
    assert torch.equal(preprocessor(left, True)['inputs'], expected)
    assert left['data_samples']['skipped'] == []


def test_a_jpeg_the_device_cannot_decode_is_replaced_counted_and_named(photos, tmp_path):
    root = link_photos(photos, tmp_path / 'damaged', 2)
    cut = cut_photo(photos, root / 'train' / 'z_cut.jpg')  # sorted last
    ds = ImageFolderDataset(str(root), crop_size=96, decode='device')
    data_batch = batch(ds, [(0, 0), (1, 0), (2, 0)])
    assert all(isinstance(img, EncodedCrop) for img in data_batch['inputs'])
    with pytest.warns(UserWarning, match=f'skipping unreadable image {re.escape(cut)}'):
        inputs = DecodingDataPreprocessor()(data_batch, True)['inputs']
    assert inputs.shape == (3, 3, 96, 96) and torch.equal(inputs[2], inputs[0])
    assert data_batch['data_samples']['skipped'] == [cut]  # what PretrainLogHook counts


def test_an_unknown_decode_is_refused(photos):
    with pytest.raises(ValueError, match="decode='gpu': expected one of"):
        ImageFolderDataset(photos, decode='gpu')


@pytest.mark.slow
def test_training_decoding_on_the_device_ends_with_the_same_weights(synthetic_imagenet, tmp_path):
    for decode in ('cpu', 'device'):
        proc = run_pretraining(tmp_path / decode, synthetic_imagenet, 'train_cfg.max_epochs=2',
                               f'train_dataloader.dataset.decode={decode}')
        log = proc.stdout + proc.stderr
        assert '1 unreadable images were skipped' in log
        assert ('decoding JPEGs on cpu with torchvision decode_jpeg: 16 of the 16' in log) == (
            decode == 'device')
    names = sorted(f for f in os.listdir(tmp_path / 'cpu') if f.endswith('.pth'))
    assert names and names == sorted(f for f in os.listdir(tmp_path / 'device')
                                     if f.endswith('.pth'))
    cpu, device = (load_from_local_safely(str(tmp_path / d / names[-1]))['state_dict']
                   for d in ('cpu', 'device'))
    assert all(torch.equal(cpu[k], device[k]) for k in cpu)
