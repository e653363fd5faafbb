"""Time a linear probe trained on cached features against one that re-encodes the images every epoch.

    python tools/benchmark_probe.py [--arch s] [--images 200] [--epochs 100] [--encode-epochs 2]

Both runs train the same heads with AdamW on the same synthetic CLEVR images (224x224, the probe's
batch of 256). The cached run is measured whole: one encoding pass plus every epoch on the features.
Re-encoding is measured over ``--encode-epochs`` epochs (each one an encoder pass over every image
plus the heads' step) and scaled to ``--epochs``, since its epochs all cost the same.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import backbones  # noqa: E402,F401  (registers JEPAViT, the probe's encoder)
from synthetic import make_clevr  # noqa: E402
from transfer import ClevrDataset, LinearProbe  # noqa: E402


def train_heads(model: LinearProbe, batches, optimizer: torch.optim.Optimizer) -> None:
    for features, labels in batches:
        losses = model(features, labels, mode='loss')
        optimizer.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--arch', default='s', help='ViT size of the frozen encoder')
    parser.add_argument('--images', type=int, default=200,
                        help='synthetic CLEVR scenes written; the train pool (90%%) is timed')
    parser.add_argument('--epochs', type=int, default=100)
    parser.add_argument('--encode-epochs', type=int, default=2,
                        help='re-encoding epochs actually timed')
    parser.add_argument('--batch', type=int, default=256, help="the probe's batch")
    args = parser.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

    with tempfile.TemporaryDirectory() as root:
        make_clevr(root, num_train=args.images, num_val=1, seed=0)
        dataset = ClevrDataset(root, 'count', 'train_full', img_size=224)
        images = torch.stack([dataset[i]['inputs'] for i in range(len(dataset))])
        labels = torch.tensor(dataset.labels)
    torch.manual_seed(0)
    model = LinearProbe(dict(type='JEPAViT', arch=args.arch, use_cls_token=True),
                        num_classes=8, readouts=('cls', 'avg')).to(device)
    images, labels = images.to(device), labels.to(device)

    def image_batches():
        for i in range(0, len(images), 64):  # encoder batches
            yield images[i:i + 64], labels[i:i + 64]

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    optimizer = torch.optim.AdamW(model.heads.parameters(), lr=1e-3, weight_decay=0.05)
    model.extract(images[:2])  # warm-up, outside both timings
    sync()
    start = time.perf_counter()
    cached = [model.extract(x) for x, _ in image_batches()]
    features = {k: torch.cat([c[k] for c in cached]) for k in cached[0]}
    for _ in range(args.epochs):
        order = torch.randperm(len(labels), device=device)
        train_heads(model, (({k: v[order[i:i + args.batch]] for k, v in features.items()},
                             labels[order[i:i + args.batch]])
                            for i in range(0, len(labels), args.batch)), optimizer)
    sync()
    cached_time = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(args.encode_epochs):
        # the same work per epoch as a probe that encodes its batches as it goes
        train_heads(model, ((model.extract(x), y) for x, y in image_batches()), optimizer)
    sync()
    per_epoch = (time.perf_counter() - start) / args.encode_epochs
    where = torch.cuda.get_device_name() if device.type == 'cuda' else \
        f'CPU ({torch.get_num_threads()} threads)'
    print(f'ViT-{args.arch.upper()}/16 at 224, {len(images)} images, {args.epochs} epochs, {where}')
    print(f'  cached features: {cached_time:.1f} s in all')
    print(f'  re-encoding every epoch: {per_epoch:.1f} s per epoch (measured over '
          f'{args.encode_epochs}), {per_epoch * args.epochs:.1f} s for {args.epochs} epochs')
    print(f'  speed-up of the cache: x{per_epoch * args.epochs / cached_time:.1f}')


if __name__ == '__main__':
    main()
