"""What the transfer tasks read from a frozen encoder: its readouts (:data:`READOUTS`) of uint8
images normalised with ImageNet's mean and std (:func:`probe_features`), and one encoding pass over
a whole dataset, sharded over processes and gathered in dataset order (:func:`encode_dataset`). The
linear probes, their feature cache, kNN and its pretraining monitor share them.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine import dist
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

__all__ = ['READOUTS', 'IMAGENET_MEAN', 'IMAGENET_STD', 'FrozenEncoderReadouts', 'check_readouts',
           'probe_features', 'encode_dataset']

#: readout -> what it reads from the encoder's last blocks (all after the final LayerNorm; in an
#: encoder with ``fc_norm``, the pooled features pass through that instead)
READOUTS = {
    'cls': 'the CLS token of the last block',
    'avg': 'the average of the last block\'s patch tokens',
    'concat4': 'the averages of the patch tokens of the last 4 blocks, concatenated',
}
#: ImageNet's per-channel RGB mean and std on the 0..255 scale, the suite's normalisation
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def check_readouts(readouts: Sequence[str], encoder: nn.Module,
                   key: str = 'model.backbone') -> None:
    """Refuse an unknown readout, and ``'cls'`` on an encoder without a CLS token; ``key`` names
    the encoder's config key in the error."""
    unknown = set(readouts) - set(READOUTS)
    if unknown:
        raise KeyError(f'unknown readouts {sorted(unknown)}; choose from {sorted(READOUTS)}')
    if 'cls' in readouts and encoder.cls_token is None:
        raise ValueError(f"readout 'cls' needs an encoder with a CLS token "
                         f'({key}.use_cls_token=True)')


@torch.no_grad()
def probe_features(backbone: nn.Module, images: torch.Tensor,
                   readouts: Sequence[str]) -> Dict[str, torch.Tensor]:
    """The readouts of a frozen encoder for uint8 RGB images (B, 3, H, W), normalised with
    ImageNet's mean and std: features (B, D, or 4D for ``concat4``) in float32, read through the
    encoder's one feature API, ``forward_intermediates``. On a GPU the encoder runs in bf16.

    Pooled features (the CLS token, averages) pass through the encoder's ``fc_norm`` (the identity
    unless the encoder has timm's layout of average-pooled models, whose final norm follows the
    pooling, as timm's heads apply it)."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    x = (images.float() - mean) / std
    blocks = 4 if 'concat4' in readouts else 1
    with torch.autocast('cuda', dtype=torch.bfloat16, enabled=x.is_cuda):
        layers = backbone.forward_intermediates(
            x, blocks, norm=True, return_prefix_tokens=True, output_fmt='NLC',
            intermediates_only=True)
    patches, prefix = layers[-1]
    features = {}
    if 'cls' in readouts:
        features['cls'] = backbone.fc_norm(prefix[:, 0])
    if 'avg' in readouts:
        features['avg'] = backbone.fc_norm(patches.mean(1))
    if 'concat4' in readouts:
        features['concat4'] = torch.cat([backbone.fc_norm(p.mean(1)) for p, _ in layers], -1)
    return {k: v.float() for k, v in features.items()}


def encode_dataset(extract: Callable[[torch.Tensor], Dict[str, torch.Tensor]],
                   dataloader: DataLoader, data_preprocessor: nn.Module,
                   logger: Optional[MMLogger] = None
                   ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
    """The features (per readout) and labels of a whole dataset, in dataset order, on the CPU.

    Distributed, each process encodes its shard (mmengine's ``DefaultSampler`` without shuffling)
    and the shards are gathered, so every process returns the whole dataset."""
    features: Dict[str, List[torch.Tensor]] = {}
    labels = []
    total = len(dataloader)
    for i, batch in enumerate(dataloader):
        data = data_preprocessor(batch, False)
        for k, v in extract(data['inputs']).items():
            features.setdefault(k, []).append(v.cpu())
        labels.append(data['data_samples'].cpu())
        if logger is not None and ((i + 1) % 50 == 0 or i + 1 == total):
            logger.info(f'encoded {i + 1}/{total} batches')
    out = {k: torch.cat(v) for k, v in features.items()}
    out['label'] = torch.cat(labels)
    if dist.get_world_size() > 1:
        if getattr(dataloader.sampler, 'shuffle', True):
            raise ValueError('gathering features needs an unshuffled DefaultSampler '
                             '(sampler=dict(type=\'DefaultSampler\', shuffle=False))')
        size = len(dataloader.dataset)
        # DefaultSampler deals index i to rank i % world (padding every rank to the same length):
        # interleaving the shards restores dataset order, cutting the padding restores its size
        out = {k: torch.stack(dist.all_gather(v), 1).flatten(0, 1)[:size] for k, v in out.items()}
    return out, out.pop('label')


class FrozenEncoderReadouts:
    """For a model over a frozen encoder (``self.backbone``) that reads its ``self.readouts``: the
    encoder stays in eval mode (no dropout, no drop path) whatever mode the model is put in, and
    :meth:`extract` gives the readouts of a batch."""
    backbone: nn.Module
    readouts: Tuple[str, ...]

    def train(self, mode: bool = True) -> 'FrozenEncoderReadouts':
        """The model's own modules in ``mode``, the encoder in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    def extract(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """uint8 RGB images (B, 3, H, W) -> features (B, D or 4D) per readout, in float32."""
        return probe_features(self.backbone, images, self.readouts)
