"""Linear probes on a frozen encoder, trained on features extracted once.

The encoder never changes during a probe, so :class:`FeatureCacheTrainLoop` (and the val/test loops)
encode their dataset once, keep the features in memory and iterate over them instead of the images:
100 epochs of a linear layer then take seconds. The model, the optimiser, the schedulers, the hooks,
the checkpoints and the logs are mmengine's, as for any other config. A probe is meant to run in one
process: the features of a split fit in memory (the 15,000 CLEVR test scenes at ViT-B are 46 MB per
readout), and every process would otherwise encode the whole split.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import LOOPS, METRICS, MODELS
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.utils.data import DataLoader

__all__ = ['LinearProbe', 'FeatureCacheTrainLoop', 'FeatureCacheValLoop', 'FeatureCacheTestLoop',
           'ProbeAccuracy', 'READOUTS']

#: readout -> what it reads from the encoder's last blocks (all after the final LayerNorm)
READOUTS = {
    'cls': 'the CLS token of the last block',
    'avg': 'the average of the last block\'s patch tokens',
    'concat4': 'the averages of the patch tokens of the last 4 blocks, concatenated',
}
_IMAGENET_MEAN = (123.675, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)


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
        self.register_buffer('mean', torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), False)

    def train(self, mode: bool = True) -> 'LinearProbe':
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def extract(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """uint8 RGB images (B, 3, H, W) -> features (B, D or 4D) per readout, in float32."""
        x = (images.float() - self.mean) / self.std
        blocks = 4 if 'concat4' in self.readouts else 1
        layers = self.backbone.forward_intermediates(
            x, blocks, norm=True, return_prefix_tokens=True, output_fmt='NLC',
            intermediates_only=True)
        patches, prefix = layers[-1]
        features = {}
        if 'cls' in self.readouts:
            features['cls'] = prefix[:, 0]
        if 'avg' in self.readouts:
            features['avg'] = patches.mean(1)
        if 'concat4' in self.readouts:
            features['concat4'] = torch.cat([p.mean(1) for p, _ in layers], -1)
        return {k: v.float() for k, v in features.items()}

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
        features: Dict[str, List[torch.Tensor]] = {}
        labels = []
        total = len(self.image_dataloader)
        for i, batch in enumerate(self.image_dataloader):
            data = model.data_preprocessor(batch, False)
            for k, v in model.extract(data['inputs']).items():
                features.setdefault(k, []).append(v.cpu())
            labels.append(data['data_samples'].cpu())
            if (i + 1) % 50 == 0 or i + 1 == total:
                self.runner.logger.info(f'feature cache: encoded {i + 1}/{total} batches '
                                        f'({len(self.cache)} images)')
        self.cache.features = {k: torch.cat(v) for k, v in features.items()}
        self.cache.labels = torch.cat(labels)

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

