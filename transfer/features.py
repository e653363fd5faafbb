"""What the transfer tasks read from a frozen encoder: its readouts (:data:`READOUTS`) of uint8
images normalised with ImageNet's mean and std (:func:`probe_features`), and one encoding pass over
a whole dataset, sharded over processes and gathered in dataset order (:func:`encode_dataset`). The
linear probes, their feature cache, kNN and its pretraining monitor share them.
"""
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine import dist
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

__all__ = ['READOUTS', 'TOKEN_READOUTS', 'CONCAT_BLOCKS', 'IMAGENET_MEAN', 'IMAGENET_STD',
           'FrozenEncoderReadouts', 'check_readouts', 'encode_dataset', 'model_input',
           'normalise', 'probe_features', 'readout_block', 'readout_width']

#: readout -> what it reads from the encoder's last blocks (all after the final LayerNorm; in an
#: encoder with ``fc_norm``, the pooled features pass through that instead). Besides these, the
#: layer-wise readouts ``block<k>_avg`` and ``block<k>_cls`` read block ``k`` (1..depth) as
#: ``avg`` and ``cls`` read the last (:func:`readout_block`).
READOUTS = {
    'cls': 'the CLS token of the last block',
    'avg': 'the average of the last block\'s patch tokens',
    'concat4': 'the averages of the patch tokens of the last 4 blocks, concatenated',
    'patches': 'the last block\'s patch tokens, (B, N, D): what attentive probes pool',
    'cls_patches': 'the CLS token, then the last block\'s patch tokens, (B, 1 + N, D)',
}
#: the readouts that keep every token, (B, tokens, D), rather than pooling them
TOKEN_READOUTS = ('patches', 'cls_patches')
#: how many of the last blocks ``concat4`` averages
CONCAT_BLOCKS = 4
_BLOCK_READOUT = re.compile(r'block([1-9][0-9]*)_(avg|cls)')
#: ImageNet's per-channel RGB mean and std on the 0..255 scale, the suite's normalisation
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def readout_block(readout: str) -> Optional[Tuple[int, str]]:
    """``(k, 'avg' or 'cls')`` of a layer-wise readout ``block<k>_<kind>``; None for the others."""
    match = _BLOCK_READOUT.fullmatch(readout)
    return (int(match.group(1)), match.group(2)) if match else None


def readout_width(readout: str, embed_dim: int) -> int:
    """The feature width of a readout (the last axis of its features)."""
    return embed_dim * (CONCAT_BLOCKS if readout == 'concat4' else 1)


def check_readouts(readouts: Sequence[str], encoder: nn.Module,
                   key: str = 'model.backbone') -> None:
    """Refuse an unknown readout, a block the encoder lacks, and a CLS readout on an encoder
    without a CLS token; ``key`` names the encoder's config key in the error."""
    blocks = {r: readout_block(r) for r in readouts}
    unknown = [r for r in readouts if r not in READOUTS and blocks[r] is None]
    if unknown:
        raise KeyError(f'unknown readouts {sorted(unknown)}; choose from {sorted(READOUTS)} or '
                       f'block<k>_avg, block<k>_cls (k = 1..depth)')
    deeper = [r for r, b in blocks.items() if b is not None and b[0] > encoder.depth]
    if deeper:
        raise ValueError(f'readouts {deeper} read blocks the encoder of depth {encoder.depth} '
                         f'({key}) does not have')
    reads_cls = [r for r, b in blocks.items() if r in ('cls', 'cls_patches') or
                 (b is not None and b[1] == 'cls')]
    if reads_cls and encoder.cls_token is None:
        raise ValueError(f'readouts {reads_cls} need an encoder with a CLS token '
                         f'({key}.use_cls_token=True)')


def _blocks_read(readouts: Sequence[str], depth: int) -> List[int]:
    """The block indices (0-based, sorted) that ``readouts`` read."""
    blocks = set()
    for readout in readouts:
        block = readout_block(readout)
        if block is not None:
            blocks.add(block[0] - 1)
        else:
            blocks.update(range(depth - (CONCAT_BLOCKS if readout == 'concat4' else 1), depth))
    return sorted(blocks)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB images (B, 3, H, W) as float32 normalised with ImageNet's mean and std."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() - mean) / std


def model_input(images: torch.Tensor) -> torch.Tensor:
    """What the encoder reads of RGB images (B, 3, H, W): uint8 ones normalised with ImageNet's
    mean and std (:func:`normalise`), float ones as they are, normalised already (as timm's
    transforms leave them, :class:`~transfer.classification_transforms.PackTimmInputs`)."""
    return normalise(images) if images.dtype == torch.uint8 else images


@torch.no_grad()
def probe_features(backbone: nn.Module, images: torch.Tensor, readouts: Sequence[str],
                   norm: bool = True) -> Dict[str, torch.Tensor]:
    """The readouts of a frozen encoder for RGB images (B, 3, H, W) (:func:`model_input`).

    Features (B, D; B, 4D for ``concat4``; B, tokens, D for ``patches`` and ``cls_patches``) in
    float32, read in one pass through the encoder's one feature API, ``forward_intermediates``,
    every block read after the final LayerNorm. On a GPU the encoder runs in bf16. Pooled features
    (CLS tokens, averages) pass through the encoder's ``fc_norm`` (the identity unless the encoder
    has timm's layout of average-pooled models, whose final norm follows the pooling, as timm's
    heads apply it). ``norm=False`` reads the blocks' raw outputs: neither norm is applied (MSN's
    few-shot features)."""
    x = model_input(images)
    depth = backbone.depth
    blocks = _blocks_read(readouts, depth)
    with torch.autocast('cuda', dtype=torch.bfloat16, enabled=x.is_cuda):
        layers = backbone.forward_intermediates(
            x, blocks, norm=norm, return_prefix_tokens=True, output_fmt='NLC',
            intermediates_only=True)
    by_block = dict(zip(blocks, layers))
    pool_norm = backbone.fc_norm if norm else nn.Identity()
    pooled = {'avg': lambda b: pool_norm(by_block[b][0].mean(1)),
              'cls': lambda b: pool_norm(by_block[b][1][:, 0])}
    patches, prefix = by_block[depth - 1]
    features = {}
    for readout in readouts:
        block = readout_block(readout)
        if block is not None:
            features[readout] = pooled[block[1]](block[0] - 1)
        elif readout in pooled:
            features[readout] = pooled[readout](depth - 1)
        elif readout == 'concat4':
            features[readout] = torch.cat(
                [pooled['avg'](b) for b in range(depth - CONCAT_BLOCKS, depth)], -1)
        elif readout == 'patches':
            features[readout] = patches
        else:
            features[readout] = torch.cat([prefix[:, :1], patches], 1)
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
    :meth:`extract` gives the readouts of a batch, after the final norm unless the model sets
    ``final_norm = False``."""
    backbone: nn.Module
    readouts: Tuple[str, ...]
    final_norm: bool = True

    def train(self, mode: bool = True) -> 'FrozenEncoderReadouts':
        """The model's own modules in ``mode``, the encoder in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    def extract(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """RGB images (B, 3, H, W) -> features per readout, in float32 (:func:`probe_features`)."""
        return probe_features(self.backbone, images, self.readouts, norm=self.final_norm)
