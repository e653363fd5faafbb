"""Linear probes on a frozen encoder, trained on features extracted once.

The encoder never changes during a probe, so :class:`FeatureCacheTrainLoop` (and the val/test loops)
encode their dataset once, keep the features in memory and iterate over them instead of the images:
100 epochs of a linear layer then take seconds. The model, the optimiser, the schedulers, the hooks,
the checkpoints and the logs are mmengine's, as for any other config. A probe is meant to run in one
process: the features of a split fit in memory (the 15,000 CLEVR test scenes at ViT-B are 46 MB per
readout), and every process would otherwise encode the whole split.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import dist
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import LOOPS, METRICS, MODELS
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.utils.data import DataLoader

__all__ = ['LinearProbe', 'FeatureCacheTrainLoop', 'FeatureCacheValLoop', 'FeatureCacheTestLoop',
           'ProbeAccuracy', 'READOUTS', 'probe_features', 'encode_dataset']

#: readout -> what it reads from the encoder's last blocks (all after the final LayerNorm)
READOUTS = {
    'cls': 'the CLS token of the last block',
    'avg': 'the average of the last block\'s patch tokens',
    'concat4': 'the averages of the patch tokens of the last 4 blocks, concatenated',
}
#: ImageNet's per-channel RGB mean and std on the 0..255 scale, the suite's normalisation
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@torch.no_grad()
def probe_features(backbone: nn.Module, images: torch.Tensor,
                   readouts: Sequence[str]) -> Dict[str, torch.Tensor]:
    """The readouts of a frozen encoder for uint8 RGB images (B, 3, H, W), normalised with
    ImageNet's mean and std: features (B, D, or 4D for ``concat4``) in float32, read through the
    encoder's one feature API, ``forward_intermediates``. On a GPU the encoder runs in bf16."""
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
        features['cls'] = prefix[:, 0]
    if 'avg' in readouts:
        features['avg'] = patches.mean(1)
    if 'concat4' in readouts:
        features['concat4'] = torch.cat([p.mean(1) for p, _ in layers], -1)
    return {k: v.float() for k, v in features.items()}


def encode_dataset(extract: Callable[[torch.Tensor], Dict[str, torch.Tensor]],
                   dataloader: DataLoader, data_preprocessor: nn.Module,
                   logger: Optional[MMLogger] = None) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
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


@MODELS.register_module()
class LinearProbe(BaseModel):
    """A frozen encoder and one linear layer per readout, trained side by side.

    Args:
        backbone: a :class:`~backbones.mm_backbone.JEPAViT` config (its ``init_cfg`` loads the
            pretrained target encoder); frozen and kept in eval mode.
        num_classes: classes of the task.
        readouts: any of :data:`READOUTS`; ``'cls'`` needs ``use_cls_token=True``.
        feature_norm: standardise each feature with a BatchNorm without affine parameters before
            the linear layer (the linear probe of MAE), its statistics averaged over all training
            batches. At test time it is a fixed affine map, so the probe stays linear; it lets
            features of a small spread train at a usual lr.
    """

    def __init__(self, backbone: dict, num_classes: int, readouts: Sequence[str] = ('avg',),
                 feature_norm: bool = False, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(readouts) - set(READOUTS)
        if unknown:
            raise KeyError(f'unknown readouts {sorted(unknown)}; choose from {sorted(READOUTS)}')
        self.backbone = MODELS.build(backbone).requires_grad_(False)
        if 'cls' in readouts and self.backbone.cls_token is None:
            raise ValueError("readout 'cls' needs an encoder with a CLS token "
                             '(model.backbone.use_cls_token=True)')
        self.readouts = tuple(readouts)
        dim = self.backbone.embed_dim
        self.heads = nn.ModuleDict()
        for r in self.readouts:
            width = dim * (4 if r == 'concat4' else 1)
            linear = nn.Linear(width, num_classes)
            nn.init.trunc_normal_(linear.weight, std=0.01)
            nn.init.zeros_(linear.bias)
            self.heads[r] = (nn.Sequential(nn.BatchNorm1d(width, eps=1e-6, momentum=None, affine=False), linear)
                             if feature_norm else linear)

    def train(self, mode: bool = True) -> 'LinearProbe':
        super().train(mode)
        self.backbone.eval()
        return self

    def extract(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """uint8 RGB images (B, 3, H, W) -> features (B, D or 4D) per readout, in float32."""
        return probe_features(self.backbone, images, self.readouts)

    def forward(self, inputs: Union[torch.Tensor, Dict[str, torch.Tensor]],
                data_samples: Optional[torch.Tensor] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[dict]]:
        """``inputs``: cached features per readout, or a batch of images (encoded first)."""
        features = self.extract(inputs) if isinstance(inputs, torch.Tensor) else inputs
        logits = {r: self.heads[r](features[r]) for r in self.readouts}
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            return {f'loss_{r}': F.cross_entropy(v, data_samples) for r, v in logits.items()}
        if mode == 'predict':
            preds = {r: v.argmax(-1).tolist() for r, v in logits.items()}
            return [dict(gt=int(y), pred={r: p[i] for r, p in preds.items()})
                    for i, y in enumerate(data_samples.tolist())]
        raise ValueError(f'unknown mode {mode!r}')


class _FeatureCache(torch.utils.data.Dataset):
    """The features and labels of a dataset, filled once by a loop's first run."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.features: Optional[Dict[str, torch.Tensor]] = None
        self.labels: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        return dict(inputs={k: v[index] for k, v in self.features.items()},
                    data_samples=self.labels[index])


class _FeatureCacheMixin:
    """Swaps a loop's image dataloader for one over the features of the same dataset, filled by
    one encoding pass when the loop first runs."""

    def _use_cache(self, batch_size: int, shuffle: bool) -> None:
        self.image_dataloader = self.dataloader
        self.cache = _FeatureCache(len(self.image_dataloader.dataset))
        generator = torch.Generator().manual_seed(self.runner.seed or 0)
        self.dataloader = DataLoader(self.cache, batch_size=batch_size, shuffle=shuffle,
                                     generator=generator)

    def _fill_cache(self) -> None:
        model = self.runner.model
        model = getattr(model, 'module', model)
        self.runner.logger.info(f'feature cache: encoding {len(self.cache)} images')
        self.cache.features, self.cache.labels = encode_dataset(
            model.extract, self.image_dataloader, model.data_preprocessor, self.runner.logger)

    def run(self):
        if self.cache.features is None:
            self._fill_cache()
        return super().run()


@LOOPS.register_module()
class FeatureCacheTrainLoop(_FeatureCacheMixin, EpochBasedTrainLoop):
    """EpochBasedTrainLoop over features encoded once; ``batch_size`` batches the features (the
    dataloader's own batch size only sets how many images are encoded at a time)."""

    def __init__(self, runner, dataloader, max_epochs: int, batch_size: int = 256,
                 **kwargs) -> None:
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        self._use_cache(batch_size, shuffle=True)
        self._max_iters = self._max_epochs * len(self.dataloader)


class _FeatureCacheEvalLoop(_FeatureCacheMixin):

    def __init__(self, runner, dataloader, evaluator, batch_size: int = 1024, **kwargs) -> None:
        super().__init__(runner, dataloader, evaluator, **kwargs)
        self._use_cache(batch_size, shuffle=False)


@LOOPS.register_module()
class FeatureCacheValLoop(_FeatureCacheEvalLoop, ValLoop):
    """ValLoop over features encoded at the first validation."""


@LOOPS.register_module()
class FeatureCacheTestLoop(_FeatureCacheEvalLoop, TestLoop):
    """TestLoop over features encoded once."""


@METRICS.register_module()
class ProbeAccuracy(BaseMetric):
    """Top-1 accuracy (%) of each readout, ``<prefix>/top1_<readout>``, and the number of samples
    it was measured on, ``<prefix>/num_samples`` (the leaderboard's standard errors need it)."""

    default_prefix = 'probe'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        readouts = results[0]['pred'].keys()
        metrics = {f'top1_{r}': 100.0 * sum(s['pred'][r] == s['gt'] for s in results) / len(results)
                   for r in readouts}
        # a float: mmengine's json log drops numpy integers, which its message hub makes of ints
        return dict(metrics, num_samples=float(len(results)))

