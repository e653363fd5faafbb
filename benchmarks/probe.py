"""The probe benchmarks (``tools/benchmark_probe.py``). On the same synthetic CLEVR images and
encoder throughout: heads trained on cached features against heads trained on features re-encoded
every epoch, and the fast classification probe (``configs/_base_/schedules/linear_fast_grid.py``)
against the recipe it stands in for (``linear_sgd_28e.py``). Then, on the same cached features of
ViT-B/16's shapes, the attentive probe's grid of heads (``attentive_cached_20e.py``) against the
fast linear probe's, per epoch of head training, beside the encoding pass they share."""
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
from transfer.attentive import AttentiveHeadsOptimWrapperConstructor, AttentiveProbe

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


#: the poolers the attentive benchmark times: V-JEPA's depth-1 at ViT-B (12 heads) and EP (Q 32)
ATTENTIVE_POOLERS = {'V-JEPA depth 1': dict(kind='vjepa', depth=1, num_heads=12),
                     'EP, 32 queries': dict(kind='efficient', num_queries=32)}


def schedule_wrapper(schedule: str) -> Tuple[dict, type]:
    """A schedule file's ``optim_wrapper`` config (less its constructor) and its constructor."""
    wrapper = Config.fromfile(osp.join(SCHEDULES, schedule)).optim_wrapper.to_dict()
    constructors = {c.__name__: c for c in (ProbeHeadsOptimWrapperConstructor,
                                            AttentiveHeadsOptimWrapperConstructor)}
    return wrapper, constructors[wrapper.pop('constructor')]


def time_head_epochs(model: LinearProbe, features: Dict[str, torch.Tensor], labels: torch.Tensor,
                     schedule: str, epochs: int, batch: int) -> float:
    """Seconds per epoch of the probe's heads over cached ``features``, stepped by the optimiser
    (and gradient clipping) of ``schedule``, over ``epochs`` shuffled epochs after one untimed
    step."""
    wrapper_cfg, constructor = schedule_wrapper(schedule)
    wrapper = constructor(wrapper_cfg)(model)
    device = labels.device

    def step(index: torch.Tensor) -> None:
        losses = model({k: v[index] for k, v in features.items()}, labels[index], mode='loss')
        wrapper.update_params(sum(losses.values()))
    step(torch.arange(min(batch, len(labels)), device=device))  # warm-up (optimiser state)
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(labels), device=device)
        for i in range(0, len(labels), batch):
            step(order[i:i + batch])
    sync(device)
    return (time.perf_counter() - start) / epochs


def time_encoding(model: LinearProbe, count: int, measured: int, device: torch.device) -> float:
    """Seconds for the frozen encoder to read the tokens of ``count`` images at 224, timed on
    ``measured`` of them (a pass costs the same per image) and scaled."""
    images = torch.randint(0, 256, (measured, 3, 224, 224), dtype=torch.uint8, device=device)
    model.extract(images[:2])  # warm-up, outside the timing
    sync(device)
    start = time.perf_counter()
    for i in range(0, measured, ENCODER_BATCH):
        model.extract(images[i:i + ENCODER_BATCH])
    sync(device)
    return (time.perf_counter() - start) * count / measured


def attentive_probes(encoder: dict, classes: int, device: torch.device
                     ) -> Tuple[LinearProbe, Dict[str, AttentiveProbe]]:
    """The fast linear probe (its grid of BatchNorm heads on ``avg``) and an attentive probe per
    pooler of :data:`ATTENTIVE_POOLERS` (the cached attentive grid on ``patches``)."""
    linear_grid = Config.fromfile(osp.join(SCHEDULES, 'linear_fast_grid.py')).fast_probe.head_grid
    attentive_grid = Config.fromfile(osp.join(SCHEDULES, 'attentive_cached_20e.py')).attentive_grid
    torch.manual_seed(0)
    linear = LinearProbe(encoder, classes, readouts=('avg',), head_norm='batchnorm',
                         head_grid=linear_grid).to(device).train()
    attentive = {name: AttentiveProbe(encoder, classes, pooler, readouts=('patches',),
                                      head_grid=attentive_grid).to(device).train()
                 for name, pooler in ATTENTIVE_POOLERS.items()}
    return linear, attentive


def benchmark_attentive(count: int, epochs: int, batch: int, encode: int,
                        classes: int = 1000) -> Dict[str, float]:
    """The attentive probe's training cost against the linear probe's, on the same cached features
    of ``count`` images at ViT-B/16's shapes (196 patch tokens x 768; random values: the cost does
    not depend on them): each probe's grid of heads (the fast linear probe's on the tokens'
    average, the cached attentive probe's on the tokens) per epoch over ``epochs`` epochs, with its
    optimiser, at ``batch``. With ``encode`` > 0, the encoding pass both share (ViT-B/16 at 224,
    timed on ``encode`` images and scaled to ``count``). Prints and returns the numbers."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    encoder = dict(type='JEPAViT', arch='b', use_cls_token=False)
    linear, attentive = attentive_probes(encoder, classes, device)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(count, 196, 768, generator=g).to(device)
    labels = torch.randint(0, classes, (count,), generator=g).to(device)
    times = {'linear': time_head_epochs(linear, {'avg': tokens.mean(1)}, labels,
                                        'linear_sgd_28e.py', epochs, batch)}
    times.update({name: time_head_epochs(model, {'patches': tokens}, labels,
                                         'attentive_cached_20e.py', epochs, batch)
                  for name, model in attentive.items()})
    print(f'attentive probe against the linear probe, the same cached features: ViT-B/16 shapes '
          f'(196 tokens x 768), {count} images, {classes} classes, batch {batch}, '
          f'{describe_device(device)}; seconds per epoch of head training (over {epochs})')
    heads = {'linear': len(linear.heads), **{n: len(m.heads) for n, m in attentive.items()}}
    print(f'  linear, fast grid ({heads["linear"]} BatchNorm + linear heads on avg): '
          f'{times["linear"]:.2f} s')
    for name in attentive:
        per_head = (times[name] / heads[name]) / (times['linear'] / heads['linear'])
        print(f'  attentive {name} ({heads[name]} heads on patches): {times[name]:.2f} s, '
              f'x{times[name] / times["linear"]:.0f} the linear grid, x{per_head:.0f} per head')
    if encode:
        times['encoding'] = time_encoding(linear, count, encode, device)
        print(f'  the encoding pass both share (ViT-B/16 at 224, timed on {encode} images): '
              f'{times["encoding"]:.1f} s for {count} images')
    return times
