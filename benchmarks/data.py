"""The pretraining input pipeline's benchmark (``tools/benchmark_data.py``): images/s per CPU core
of the suite's loader, built from ``configs/_base_/pretrain/jepa_in1k.py``'s ``train_dataloader``,
against torchvision's ``ImageFolder`` + ``RandomResizedCrop`` + ``ToTensor``, over the same JPEGs in
the same order; and the part of the ``decode='device'`` pipeline left to the workers (reading the
file, its header and the crop box), with, on a GPU, the device's decoding rate.

The photographs are real ones: scikit-image's sample images (they ship inside its wheel), cropped at
random and re-encoded at ImageNet's sizes and JPEG qualities, so decoding costs what it costs on
ImageNet rather than on flat synthetic pictures that compress to almost nothing.
"""
import contextlib
import math
import os
import os.path as osp
import time
from itertools import islice
from typing import Dict, Iterator

import numpy as np
import skimage.data
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import ImageFolder

from benchmarks.devices import sync

CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_', 'pretrain',
                  'jepa_in1k.py')
#: images/s one GPU takes in pretraining: tools/benchmark_pretrain.py's ViT-B/16 I-JEPA step on an
#: H200 (2698, issue 19), the rate the CPU cores per GPU are sized for
GPU_IMAGES_PER_S = 2700
#: scikit-image samples that load without a download, all photographs (textures and micrographs
#: too) with ImageNet's detail, not the smooth ones (moon, clock, cell) that compress far more; the
#: grey ones are converted to RGB, as ImageNet's few grey JPEGs are decoded
SAMPLES = ('astronaut', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry', 'hubble_deep_field',
           'retina', 'camera', 'coins', 'grass', 'gravel', 'brick')
#: ImageNet train images: sides mostly of 300-500 px, JPEG quality mostly 75-95
SIDES = (300, 500)
QUALITIES = (75, 95)
JPEG_ENDINGS = ('.jpg', '.jpeg')


def _random_view(source: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random crop of ``source`` at random sides in :data:`SIDES`: a box of the output's shape,
    from its size (or the largest that fits, when the source is smaller) up to the largest that
    fits, resampled to the output; never enlarged more than needed, since enlarging smooths a photo
    into one that compresses, and so decodes, unlike ImageNet's."""
    width, height = (int(s) for s in rng.integers(SIDES[0], SIDES[1] + 1, size=2))
    largest = min(source.width / width, source.height / height)
    fit = rng.uniform(min(largest, 1.0), largest)
    box_w, box_h = width * fit, height * fit
    left, top = rng.uniform(0, source.width - box_w), rng.uniform(0, source.height - box_h)
    return source.resize((width, height), Image.BICUBIC,
                         box=(left, top, left + box_w, top + box_h))


def make_photos(root: str, count: int, seed: int = 0) -> None:
    """Write ``count`` JPEGs of :data:`SAMPLES` to ``root/train/<sample>/<index>.JPEG``."""
    rng = np.random.default_rng(seed)
    sources = {name: Image.fromarray(getattr(skimage.data, name)()).convert('RGB')
               for name in SAMPLES}
    for i in range(count):
        name = SAMPLES[i % len(SAMPLES)]
        folder = osp.join(root, 'train', name)
        os.makedirs(folder, exist_ok=True)
        quality = int(rng.integers(QUALITIES[0], QUALITIES[1] + 1))
        _random_view(sources[name], rng).save(osp.join(folder, f'{i:06d}.JPEG'), quality=quality)


def link_jpegs(folder: str, root: str) -> None:
    """Link every JPEG under ``folder`` (recursively) into ``root/train/images``, the layout both
    pipelines read. A folder without JPEGs raises ``FileNotFoundError``."""
    paths = sorted(osp.join(d, f) for d, _, files in os.walk(folder) for f in files
                   if f.lower().endswith(JPEG_ENDINGS))
    if not paths:
        raise FileNotFoundError(f'no JPEG files ({", ".join(JPEG_ENDINGS)}) under {folder}')
    os.makedirs(osp.join(root, 'train', 'images'))
    for i, path in enumerate(paths):
        os.symlink(osp.abspath(path), osp.join(root, 'train', 'images', f'{i:06d}.JPEG'))


def pretrain_loader_cfg() -> dict:
    """The ``train_dataloader`` of :data:`CONFIG` (loading it registers the suite's modules)."""
    return Config.fromfile(CONFIG).train_dataloader.to_dict()


def suite_loader(root: str, batch_size: int, seed: int = 0, decode: str = 'cpu') -> DataLoader:
    """The config's train dataloader over ``root``, in this process: no workers (one core), no
    pinning (it needs a GPU), ``batch_size``, ``seed`` and the dataset's ``decode`` in place of the
    config's."""
    cfg = pretrain_loader_cfg()
    cfg.update(batch_size=batch_size, num_workers=0, persistent_workers=False, pin_memory=False)
    for part in ('dataset', 'collate_fn', 'sampler'):
        cfg[part]['seed'] = seed
    cfg['dataset'].update(data_root=root, decode=decode)
    return Runner.build_dataloader(cfg)


def device_decode_images_per_s(loader: DataLoader, count: int, device: torch.device) -> float:
    """Images/s of the pretraining data preprocessor decoding, cropping and normalising on
    ``device`` the first ``count`` batches of a ``decode='device'`` loader (read beforehand), after
    one batch of warm-up."""
    preprocessor = MODELS.build(Config.fromfile(CONFIG).model.data_preprocessor).to(device)
    batches = list(islice(iter(loader), 1 + count))
    preprocessor(batches[0], True)
    sync(device)
    start = time.perf_counter()
    for data in batches[1:]:
        preprocessor(data, True)
    sync(device)
    return sum(len(b['inputs']) for b in batches[1:]) / (time.perf_counter() - start)


def torchvision_dataset(root: str) -> ImageFolder:
    """torchvision's standard ``ImageFolder`` over ``root/train`` with the config's crop."""
    dataset = pretrain_loader_cfg()['dataset']
    transform = transforms.Compose([
        transforms.RandomResizedCrop(dataset['crop_size'], scale=tuple(dataset['crop_scale'])),
        transforms.ToTensor()])
    return ImageFolder(osp.join(root, 'train'), transform=transform)


def images_per_s(batches: Iterator, warmup: int, count: int, batch_size: int) -> float:
    """Images/s over ``count`` batches drawn after ``warmup`` untimed ones."""
    for _ in islice(batches, warmup):
        pass
    start = time.perf_counter()
    for _ in islice(batches, count):
        pass
    return count * batch_size / (time.perf_counter() - start)


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """torch on one thread (Pillow decodes and resizes on one already), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def benchmark_data(root: str, num_images: int, seed: int = 0) -> Dict[str, float]:
    """Time both pipelines on one core over ``root/train`` (the same batches of the same files,
    one batch of warm-up, then at least ``num_images`` images); print and return images/s."""
    reference = torchvision_dataset(root)
    batch_size = min(pretrain_loader_cfg()['batch_size'], num_images, len(reference))
    count = math.ceil(num_images / batch_size)
    suite = suite_loader(root, batch_size, seed)
    if [p for p, _ in suite.dataset.samples] != [p for p, _ in reference.samples]:
        raise RuntimeError(f'the two datasets list the files under {root} differently')
    # the suite's sampler chooses the batches (a seeded shuffle, the same on every pass) and
    # torchvision reads the same ones: both datasets list the same files in the same order
    batches = [[i for i, _ in keys] for keys in islice(suite.batch_sampler, 1 + count)]
    torch.manual_seed(seed)
    encoded = suite_loader(root, batch_size, seed, decode='device')
    with one_core():
        rates = dict(suite=images_per_s(iter(suite), 1, count, batch_size),
                     torchvision=images_per_s(
                         iter(DataLoader(reference, batch_sampler=batches)), 1, count, batch_size),
                     device_decode_workers=images_per_s(iter(encoded), 1, count, batch_size))
    if torch.cuda.is_available():
        rates['device_decode_gpu'] = device_decode_images_per_s(
            encoded, count, torch.device('cuda'))
    rates['speedup'] = rates['suite'] / rates['torchvision']
    print(f'files: {len(reference)}')
    # ImageNet's train JPEGs average about 110 KB: decoding cost grows with the bytes
    print(f'mean_file_kb: {np.mean([osp.getsize(p) for p, _ in reference.samples]) / 1e3:.1f}')
    print(f'images_timed: {count * batch_size}')
    print(f'batch_size: {batch_size}')
    # device_decode_workers: what the workers still do when the device decodes (read the file,
    # parse its header, draw the crop box, the mask collate)
    for name in ('suite', 'torchvision', 'device_decode_workers'):
        print(f'{name}_images_per_s_per_core: {rates[name]:.1f}')
        print(f'{name}_cores_per_gpu_at_{GPU_IMAGES_PER_S}_images_per_s: '
              f'{GPU_IMAGES_PER_S / rates[name]:.1f}')
    if 'device_decode_gpu' in rates:
        print(f'device_decode_gpu_images_per_s: {rates["device_decode_gpu"]:.1f} '
              f'({torch.cuda.get_device_name()}, decode + crop + normalise)')
    print(f'speedup_vs_torchvision: {rates["speedup"]:.2f}')
    return rates
