"""The linear-probe benchmark (``tools/benchmark_probe.py``), on the same synthetic CLEVR images and
encoder throughout: heads trained on cached features against heads trained on features re-encoded
every epoch, and the fast classification probe (``configs/_base_/schedules/linear_fast_grid.py``)
against the recipe it stands in for (``linear_sgd_28e.py``)."""
import os.path as osp
import tempfile
import time
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch
from mmengine.config import Config

import backbones  # noqa: F401  (registers JEPAViT, the probe's encoder)
from synthetic import make_clevr
from benchmarks.devices import describe_device, sync
from transfer import ClevrDataset, LinearProbe, ProbeHeadsOptimWrapperConstructor

ENCODER_BATCH = 64
SCHEDULES = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_',
                     'schedules')
#: the readouts both classification probes train (DSeq-JEPA's: the most heads)
READOUTS = ('concat4', 'avg', 'cls')


def train_heads(model: LinearProbe, batches, optimizer: torch.optim.Optimizer) -> None:
    """One pass of the probe's heads over (features, labels) batches."""
    for features, labels in batches:
        losses = model(features, labels, mode='loss')
        optimizer.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        optimizer.step()


def clevr_images(count: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The 224x224 images and count labels of the train pool of ``count`` synthetic CLEVR scenes."""
    with tempfile.TemporaryDirectory() as root:
        make_clevr(root, num_train=count, num_val=1, seed=0)
        dataset = ClevrDataset(root, 'count', 'train_full', img_size=224)
        images = torch.stack([dataset[i]['inputs'] for i in range(len(dataset))])
        return images, torch.tensor(dataset.labels)


def image_batches(images: torch.Tensor, labels: torch.Tensor, size: int) -> Iterator:
    """(images, labels) batches of ``size``, in order."""
    return ((images[i:i + size], labels[i:i + size]) for i in range(0, len(images), size))


def time_cached(model: LinearProbe, images: Iterator, labels: torch.Tensor, epochs: int,
                batch: int, optimizer: torch.optim.Optimizer) -> float:
    """Seconds for one encoding pass over the images plus ``epochs`` epochs on the features."""
    device = labels.device
    sync(device)
    start = time.perf_counter()
    cached = [model.extract(x) for x, _ in images]
    features = {k: torch.cat([c[k] for c in cached]) for k in cached[0]}
    for _ in range(epochs):
        order = torch.randperm(len(labels), device=device)
        train_heads(model, (({k: v[order[i:i + batch]] for k, v in features.items()},
                             labels[order[i:i + batch]])
                            for i in range(0, len(labels), batch)), optimizer)
    sync(device)
    return time.perf_counter() - start


def time_reencoding(model: LinearProbe, image_batches: Callable[[], Iterator], epochs: int,
                    optimizer: torch.optim.Optimizer, device: torch.device) -> float:
    """Seconds per epoch of a probe that encodes its batches as it goes, over ``epochs`` epochs."""
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        train_heads(model, ((model.extract(x), y) for x, y in image_batches()), optimizer)
    sync(device)
    return (time.perf_counter() - start) / epochs


def recipe_probe(encoder: dict, head_grid: Optional[dict], device: torch.device
                 ) -> Tuple[LinearProbe, torch.optim.Optimizer]:
    """A classification probe on :data:`READOUTS` (BatchNorm heads, a ``head_grid`` if given) with
    the recipe's SGD over its heads, one param group each, as the configs build it."""
    torch.manual_seed(0)  # the same encoder weights for every probe
    model = LinearProbe(encoder, num_classes=8, readouts=READOUTS, head_norm='batchnorm',
                        head_grid=head_grid).to(device).train()
    wrapper = Config.fromfile(osp.join(SCHEDULES, 'linear_sgd_28e.py')).optim_wrapper.to_dict()
    wrapper.pop('constructor')
    return model, ProbeHeadsOptimWrapperConstructor(wrapper)(model).optimizer


def benchmark_fast_probe(encoder: dict, images: torch.Tensor, labels: torch.Tensor,
                         paper_epochs: int) -> Dict[str, float]:
    """The fast probe's cost against the recipe's, training only: the recipe's epochs of batches
    (the recipe's global batch) encoded anew, measured over ``paper_epochs`` epochs and scaled,
    against one encoding pass plus as many epochs of the grid's heads on the cached features (all
    the images: the held-out slice's scoring, a fraction of one epoch of the heads, is left out).
    Images are in memory in both: neither decodes nor augments (the recipe decodes and augments
    every epoch, so the ratio is a lower bound); the test split's one encoding pass, the same in
    both, is left out. Prints and returns the numbers."""
    recipe = Config.fromfile(osp.join(SCHEDULES, 'linear_sgd_28e.py'))
    epochs, batch = recipe.train_cfg.max_epochs, recipe.auto_scale_lr.base_batch_size
    grid = Config.fromfile(osp.join(SCHEDULES, 'linear_fast_grid.py')).fast_probe.head_grid
    device = labels.device
    model, optimizer = recipe_probe(encoder, None, device)
    per_epoch = time_reencoding(model, lambda: image_batches(images, labels, batch), paper_epochs,
                                optimizer, device)
    model, optimizer = recipe_probe(encoder, grid, device)
    fast = time_cached(model, image_batches(images, labels, ENCODER_BATCH), labels, epochs, batch,
                       optimizer)
    heads = len(model.head_specs) // len(READOUTS)
    print(f'  fast probe against the recipe ({", ".join(READOUTS)}; {epochs} epochs, '
          f'batch {batch}):')
    print(f'    recipe, every batch re-encoded: {per_epoch:.1f} s per epoch (measured over '
          f'{paper_epochs}), {per_epoch * epochs:.1f} s for {epochs} epochs')
    print(f'    fast, encoded once, {heads} heads per readout: {fast:.1f} s in all')
    print(f'    cost ratio recipe / fast: x{per_epoch * epochs / fast:.1f}')
    return dict(paper_per_epoch=per_epoch, paper=per_epoch * epochs, fast=fast)


def benchmark_probe(arch: str, count: int, epochs: int, encode_epochs: int,
                    batch: int) -> Dict[str, float]:
    """Time the probes (see ``tools/benchmark_probe.py``); print and return the numbers."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    images, labels = clevr_images(count)
    encoder = dict(type='JEPAViT', arch=arch, use_cls_token=True)
    torch.manual_seed(0)
    model = LinearProbe(encoder, num_classes=8, readouts=('cls', 'avg')).to(device)
    images, labels = images.to(device), labels.to(device)

    def encoder_batches() -> Iterator:
        return image_batches(images, labels, ENCODER_BATCH)

    optimizer = torch.optim.AdamW(model.heads.parameters(), lr=1e-3, weight_decay=0.05)
    model.extract(images[:2])  # warm-up, outside both timings
    cached = time_cached(model, encoder_batches(), labels, epochs, batch, optimizer)
    per_epoch = time_reencoding(model, encoder_batches, encode_epochs, optimizer, device)
    print(f'ViT-{arch.upper()}/16 at 224, {len(images)} images, {epochs} epochs, '
          f'{describe_device(device)}')
    print(f'  cached features: {cached:.1f} s in all')
    print(f'  re-encoding every epoch: {per_epoch:.1f} s per epoch (measured over '
          f'{encode_epochs}), {per_epoch * epochs:.1f} s for {epochs} epochs')
    print(f'  speed-up of the cache: x{per_epoch * epochs / cached:.1f}')
    fast = benchmark_fast_probe(encoder, images, labels, encode_epochs)
    return dict(cached=cached, per_epoch=per_epoch, **fast)
