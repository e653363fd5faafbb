"""The linear-probe benchmark (``tools/benchmark_probe.py``): heads trained on cached features
against heads trained on features re-encoded every epoch, on the same synthetic CLEVR images."""
import tempfile
import time
from typing import Callable, Dict, Iterator, Tuple

import torch

import backbones  # noqa: F401  (registers JEPAViT, the probe's encoder)
from synthetic import make_clevr
from suite.devices import describe_device, sync
from transfer import ClevrDataset, LinearProbe

ENCODER_BATCH = 64


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
    start = time.perf_counter()
    for _ in range(epochs):
        train_heads(model, ((model.extract(x), y) for x, y in image_batches()), optimizer)
    sync(device)
    return (time.perf_counter() - start) / epochs


def benchmark_probe(arch: str, count: int, epochs: int, encode_epochs: int,
                    batch: int) -> Dict[str, float]:
    """Time both probes (see ``tools/benchmark_probe.py``); print and return the numbers."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    images, labels = clevr_images(count)
    torch.manual_seed(0)
    model = LinearProbe(dict(type='JEPAViT', arch=arch, use_cls_token=True),
                        num_classes=8, readouts=('cls', 'avg')).to(device)
    images, labels = images.to(device), labels.to(device)

    def image_batches():
        for i in range(0, len(images), ENCODER_BATCH):
            yield images[i:i + ENCODER_BATCH], labels[i:i + ENCODER_BATCH]

    optimizer = torch.optim.AdamW(model.heads.parameters(), lr=1e-3, weight_decay=0.05)
    model.extract(images[:2])  # warm-up, outside both timings
    cached = time_cached(model, image_batches(), labels, epochs, batch, optimizer)
    per_epoch = time_reencoding(model, image_batches, encode_epochs, optimizer, device)
    print(f'ViT-{arch.upper()}/16 at 224, {len(images)} images, {epochs} epochs, '
          f'{describe_device(device)}')
    print(f'  cached features: {cached:.1f} s in all')
    print(f'  re-encoding every epoch: {per_epoch:.1f} s per epoch (measured over '
          f'{encode_epochs}), {per_epoch * epochs:.1f} s for {epochs} epochs')
    print(f'  speed-up of the cache: x{per_epoch * epochs / cached:.1f}')
    return dict(cached=cached, per_epoch=per_epoch)
