"""Linear probes on a frozen encoder: heads trained on images re-encoded every step, or on features
extracted once.

:class:`LinearProbe` takes images (encoded without gradients at every step, as a protocol with
augmentation needs: mmengine's plain loops) or cached features. The encoder never changes during a
probe, so :class:`FeatureCacheTrainLoop` (and the val/test loops) can instead encode their dataset
once, keep the features in memory and iterate over them: 100 epochs of a linear layer then take
seconds. The model, the optimiser, the schedulers, the hooks, the checkpoints and the logs are
mmengine's, as for any other config. A cached probe is meant to run in one process: the features of
a split fit in memory (the 15,000 CLEVR test scenes at ViT-B are 46 MB per readout), and every
process would otherwise encode the whole split. With a ``feature_store`` folder in the config,
features are also kept on disk, and a later probe of the same encoder on the same images (CLEVR
Dist after Count) loads them instead of encoding (:mod:`transfer.feature_store`).

A probe may train a grid of heads per readout (``head_grid``: learning-rate scales x weight decays)
side by side, each in its own param group (:class:`ProbeHeadsOptimWrapperConstructor`);
:class:`FeatureCacheTestLoop` with a ``selection_dataloader`` (a held-out part of the training set)
then reports, per readout, the test top-1 of the head best on that held-out data.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import dist
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import (LOOPS, METRICS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                               OPTIMIZERS)
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.utils.data import DataLoader

from engine.model import unwrap_model
from engine import records
from .feature_store import FeatureStore

__all__ = ['LinearProbe', 'HeadSpec', 'ProbeHeadsOptimWrapperConstructor', 'FeatureCacheTrainLoop',
           'FeatureCacheValLoop', 'FeatureCacheTestLoop', 'ProbeAccuracy', 'READOUTS', 'HEAD_NORMS',
           'check_readouts', 'probe_features', 'encode_dataset', 'grid_head_name', 'select_heads',
           'top1_per_head']

#: readout -> what it reads from the encoder's last blocks (all after the final LayerNorm)
READOUTS = {
    'cls': 'the CLS token of the last block',
    'avg': 'the average of the last block\'s patch tokens',
    'concat4': 'the averages of the patch tokens of the last 4 blocks, concatenated',
}
#: head_norm -> what each head puts before its linear layer
HEAD_NORMS = {
    None: 'nothing',
    'standardise': 'a BatchNorm without affine parameters, its statistics averaged over all '
                   'training batches (MAE\'s linear probe)',
    'batchnorm': 'a BatchNorm with affine parameters, torch\'s defaults (the DSeq-JEPA '
                 'authors\' probe)',
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


class HeadSpec(NamedTuple):
    """What a probe head reads and how it trains: its readout, the factor on the optimizer's lr and
    its weight decay (None: the optimizer's)."""
    readout: str
    lr_scale: float = 1.0
    weight_decay: Optional[float] = None


def _number_tag(value: float) -> str:
    # module names may not hold dots
    return f'{value:g}'.replace('.', 'p')


def grid_head_name(readout: str, lr_scale: float, weight_decay: float) -> str:
    """The name of a grid head, e.g. ``concat4_lrx0p3_wd0p0005`` (lr 0.3 x the optimizer's, weight
    decay 0.0005): its key in ``LinearProbe.heads`` and in its logits, losses and predictions."""
    return f'{readout}_lrx{_number_tag(lr_scale)}_wd{_number_tag(weight_decay)}'


def head_specs(readouts: Sequence[str], grid: Optional[dict]) -> Dict[str, HeadSpec]:
    """Head name -> :class:`HeadSpec`: one head per readout, named after it, without a grid; with
    ``grid`` (``lr_scales``, ``weight_decays``) one per readout per (lr scale, weight decay)."""
    if grid is None:
        return {r: HeadSpec(r) for r in readouts}
    unknown = set(grid) - {'lr_scales', 'weight_decays'}
    if unknown or not all(grid.get(k) for k in ('lr_scales', 'weight_decays')):
        raise KeyError(f'head_grid takes non-empty lr_scales and weight_decays, got {grid}')
    specs = {grid_head_name(r, lr, wd): HeadSpec(r, float(lr), float(wd))
             for r in readouts for lr in grid['lr_scales'] for wd in grid['weight_decays']}
    expected = len(readouts) * len(grid['lr_scales']) * len(grid['weight_decays'])
    if len(specs) != expected:
        raise ValueError(f'head_grid {grid} names some heads twice (repeated values?)')
    return specs


def head_norm_layer(kind: Optional[str], width: int) -> Optional[nn.Module]:
    """The layer of :data:`HEAD_NORMS` ``kind`` for ``width`` features (None for none)."""
    if kind not in HEAD_NORMS:
        raise KeyError(f'unknown head_norm {kind!r}; choose one of {list(HEAD_NORMS)}')
    if kind == 'standardise':
        return nn.BatchNorm1d(width, eps=1e-6, momentum=None, affine=False)
    return nn.BatchNorm1d(width) if kind == 'batchnorm' else None


def linear_head(width: int, num_classes: int, norm: Optional[str]) -> nn.Module:
    """A linear layer (weights trunc-normal std 0.01, bias 0) after :func:`head_norm_layer`."""
    linear = nn.Linear(width, num_classes)
    nn.init.trunc_normal_(linear.weight, std=0.01)
    nn.init.zeros_(linear.bias)
    layer = head_norm_layer(norm, width)
    return linear if layer is None else nn.Sequential(layer, linear)


@MODELS.register_module()
class LinearProbe(BaseModel):
    """A frozen encoder and linear heads on its readouts, trained side by side.

    Args:
        backbone: a :class:`~backbones.mm_backbone.JEPAViT` config (its ``init_cfg`` loads the
            pretrained target encoder); frozen and kept in eval mode.
        num_classes: classes of the task.
        readouts: any of :data:`READOUTS`; ``'cls'`` needs ``use_cls_token=True``.
        head_norm: what each head puts before its linear layer, one of :data:`HEAD_NORMS`. Both
            BatchNorms are a fixed affine map at test time, so the probe stays linear.
            ``'standardise'`` lets features of a small spread train at a usual lr.
        head_grid: ``dict(lr_scales=(...), weight_decays=(...))`` trains one head per readout per
            (lr scale, weight decay) (:func:`grid_head_name`); their param groups come from
            :class:`ProbeHeadsOptimWrapperConstructor`. Without it, one head per readout, named
            after it.

    The loss of a readout (``loss_<readout>``) sums its heads' cross-entropies, so each head's
    gradient is its own loss's. Predictions hold every head's class (``pred[head]``).
    """

    def __init__(self, backbone: dict, num_classes: int, readouts: Sequence[str] = ('avg',),
                 head_norm: Optional[str] = None, head_grid: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone).requires_grad_(False)
        check_readouts(readouts, self.backbone)
        self.readouts = tuple(readouts)
        self.head_specs = head_specs(self.readouts, head_grid)
        dim = self.backbone.embed_dim
        widths = {r: dim * (4 if r == 'concat4' else 1) for r in self.readouts}
        self.heads = nn.ModuleDict(
            {name: linear_head(widths[spec.readout], num_classes, head_norm)
             for name, spec in self.head_specs.items()})

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
        """``inputs``: cached features per readout, or a batch of images (encoded first, without
        gradients). ``tensor`` and ``predict`` are per head, ``loss`` per readout."""
        features = self.extract(inputs) if isinstance(inputs, torch.Tensor) else inputs
        logits = {name: self.heads[name](features[spec.readout])
                  for name, spec in self.head_specs.items()}
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            losses: Dict[str, torch.Tensor] = {}
            for name, spec in self.head_specs.items():
                loss = F.cross_entropy(logits[name], data_samples)
                key = f'loss_{spec.readout}'
                losses[key] = losses[key] + loss if key in losses else loss
            return losses
        if mode == 'predict':
            preds = {name: v.argmax(-1).tolist() for name, v in logits.items()}
            return [dict(gt=int(y), pred={name: p[i] for name, p in preds.items()})
                    for i, y in enumerate(data_samples.tolist())]
        raise ValueError(f'unknown mode {mode!r}')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ProbeHeadsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """One param group per head of a :class:`LinearProbe`: lr = the optimizer's lr x the head's
    ``lr_scale``, and the head's weight decay (the optimizer's where it has none). The frozen
    encoder stays out of the optimizer. mmengine's param schedulers and ``auto_scale_lr`` scale
    every group's lr alike, so the heads keep their ratios."""

    def __call__(self, model: nn.Module) -> OptimWrapper:
        probe = unwrap_model(model)
        if not isinstance(getattr(probe, 'head_specs', None), dict):
            raise TypeError(f'ProbeHeadsOptimWrapperConstructor needs a LinearProbe (a model with '
                            f'head_specs), got {type(probe).__name__}')
        if self.paramwise_cfg:
            raise ValueError('ProbeHeadsOptimWrapperConstructor takes no paramwise_cfg: each head '
                             'has its own group, set by model.head_grid')
        optimizer = OPTIMIZERS.build(dict(self.optimizer_cfg, params=self.head_groups(probe)))
        wrapper_cfg = dict(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))

    def head_groups(self, probe: 'LinearProbe') -> List[dict]:
        """The param groups of the probe's heads, in ``head_specs`` order."""
        if self.base_lr is None:
            raise KeyError('ProbeHeadsOptimWrapperConstructor needs optim_wrapper.optimizer.lr')
        groups = []
        for name, spec in probe.head_specs.items():
            group = dict(params=list(probe.heads[name].parameters()),
                         lr=self.base_lr * spec.lr_scale)
            if spec.weight_decay is not None:
                group['weight_decay'] = spec.weight_decay
            groups.append(group)
        return groups


class _FeatureCache(torch.utils.data.Dataset):
    """The features and labels of an image dataloader's dataset, filled once by :meth:`fill`.
    A batch is gathered by one indexing (``__getitems__``, which torch's DataLoader prefers to
    fetching and collating samples one by one: that would cost more than the heads' step over
    ImageNet's 1.28M features). With a :class:`~transfer.feature_store.FeatureStore`, features
    already stored for the same encoder and images are loaded instead of encoded, and new ones
    saved."""

    def __init__(self, image_dataloader: DataLoader, dtype: str = 'float32',
                 store: Optional[FeatureStore] = None) -> None:
        if dtype not in ('float32', 'float16', 'bfloat16'):
            raise KeyError("feature_dtype must be 'float32', 'float16' or 'bfloat16', "
                           f'got {dtype!r}')
        self.image_dataloader = image_dataloader
        self.dtype = getattr(torch, dtype)
        self.store = store
        self.features: Optional[Dict[str, torch.Tensor]] = None
        self.labels: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return len(self.image_dataloader.dataset)

    def fill(self, model: 'LinearProbe', logger: MMLogger) -> None:
        """Encode the images with ``model.extract`` (or load their features from the store),
        unless that has been done."""
        if self.features is not None:
            return
        dataset = self.image_dataloader.dataset
        key = self.store.key(model, dataset, self.dtype) if self.store is not None else None
        if key is not None:
            self.features = self.store.load(key, len(self), logger)
            if self.features is not None:
                self.labels = torch.tensor(dataset.labels)  # the current task's, never stored
                return
        logger.info(f'feature cache: encoding {len(self)} images')
        dtype = self.dtype

        def extract(images: torch.Tensor) -> Dict[str, torch.Tensor]:
            # cast on the device: the CPU then only ever holds features in the cache's dtype
            return {k: v.to(dtype) for k, v in model.extract(images).items()}
        self.features, self.labels = encode_dataset(
            extract, self.image_dataloader, model.data_preprocessor, logger)
        if key is not None:
            self.store.save(key, self.features, logger)

    def __getitem__(self, index: Union[int, List[int]]) -> dict:
        return dict(inputs={k: v[index].float() for k, v in self.features.items()},
                    data_samples=self.labels[index])

    __getitems__ = __getitem__


def _whole_batch(batch: dict) -> dict:
    """The collate function of a cache's batches, gathered whole by ``__getitems__``."""
    return batch


def _feature_loader(cache: _FeatureCache, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """Batches of the cache in a seeded order. A shuffled (training) pass leaves out a last batch of
    a single feature, on which a head's BatchNorm cannot train."""
    return DataLoader(cache, batch_size=batch_size, shuffle=shuffle, collate_fn=_whole_batch,
                      drop_last=shuffle and len(cache) % batch_size == 1,
                      generator=torch.Generator().manual_seed(seed))


def feature_store(runner) -> Optional[FeatureStore]:
    """The store in the folder of the runner's config key ``feature_store`` (None: no store)."""
    folder = runner.cfg.get('feature_store')
    return FeatureStore(folder, runner.cfg.model) if folder else None


class _FeatureCacheMixin:
    """Swaps a loop's image dataloader for one over the features of the same dataset, filled by
    one encoding pass when the loop first runs."""

    def _use_cache(self, batch_size: int, shuffle: bool, dtype: str) -> None:
        self.image_dataloader = self.dataloader
        self.cache = _FeatureCache(self.image_dataloader, dtype, feature_store(self.runner))
        self.dataloader = _feature_loader(self.cache, batch_size, shuffle, self.runner.seed or 0)

    def run(self):
        self.cache.fill(unwrap_model(self.runner.model), self.runner.logger)
        return super().run()


@LOOPS.register_module()
class FeatureCacheTrainLoop(_FeatureCacheMixin, EpochBasedTrainLoop):
    """EpochBasedTrainLoop over features encoded once; ``batch_size`` batches the features (the
    dataloader's own batch size only sets how many images are encoded at a time). The features are
    kept in ``feature_dtype`` (float16 halves the memory; the heads read float32)."""

    def __init__(self, runner, dataloader, max_epochs: int, batch_size: int = 256,
                 feature_dtype: str = 'float32', **kwargs) -> None:
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        self._use_cache(batch_size, shuffle=True, dtype=feature_dtype)
        self._max_iters = self._max_epochs * len(self.dataloader)


class _FeatureCacheEvalLoop(_FeatureCacheMixin):

    def __init__(self, runner, dataloader, evaluator, batch_size: int = 1024,
                 feature_dtype: str = 'float32', **kwargs) -> None:
        super().__init__(runner, dataloader, evaluator, **kwargs)
        self._use_cache(batch_size, shuffle=False, dtype=feature_dtype)


@LOOPS.register_module()
class FeatureCacheValLoop(_FeatureCacheEvalLoop, ValLoop):
    """ValLoop over features encoded at the first validation."""


def top1_per_head(results: Sequence[dict]) -> Dict[str, float]:
    """Top-1 accuracy (%) of every head of ``LinearProbe`` predictions (``dict(gt, pred)``)."""
    return {h: 100.0 * sum(s['pred'][h] == s['gt'] for s in results) / len(results)
            for h in results[0]['pred']}


def select_heads(top1: Dict[str, float], specs: Dict[str, HeadSpec]) -> Dict[str, str]:
    """Readout -> the name of its head of highest ``top1``, the first in ``specs`` order on ties."""
    best: Dict[str, str] = {}
    for name, spec in specs.items():
        if spec.readout not in best or top1[name] > top1[best[spec.readout]]:
            best[spec.readout] = name
    return best


@LOOPS.register_module()
class FeatureCacheTestLoop(_FeatureCacheEvalLoop, TestLoop):
    """TestLoop over features encoded once.

    With ``selection_dataloader`` (a held-out part of the training set, e.g. a
    ``ClassBalancedSubset`` with ``part='subset'`` of the training set the probe was trained on the
    ``'rest'`` of), every head is first scored on its features; per readout the best head's test
    top-1 is reported as ``top1_<readout>``, with its ``lr_scale_<readout>``,
    ``weight_decay_<readout>`` (a grid head's) and ``heldout_top1_<readout>``. The choice is made before the test
    split is encoded and from the held-out split alone, and it needs no state in the checkpoint.
    """

    def __init__(self, runner, dataloader, evaluator, batch_size: int = 1024,
                 feature_dtype: str = 'float32', selection_dataloader=None, **kwargs) -> None:
        super().__init__(runner, dataloader, evaluator, batch_size=batch_size,
                         feature_dtype=feature_dtype, **kwargs)
        self.selection: Optional[_FeatureCache] = None
        if selection_dataloader is not None:
            if not any(isinstance(m, ProbeAccuracy) for m in self.evaluator.metrics):
                raise TypeError('FeatureCacheTestLoop with a selection_dataloader reports through '
                                "ProbeAccuracy: test_evaluator needs type='ProbeAccuracy'")
            images = runner.build_dataloader(selection_dataloader, seed=runner.seed)
            self.selection = _FeatureCache(images, feature_dtype, feature_store(runner))
            self.selection_loader = _feature_loader(self.selection, batch_size, False, 0)

    def run(self) -> dict:
        if self.selection is not None:
            chosen, scalars = self.choose_heads()
            for metric in self.evaluator.metrics:
                if isinstance(metric, ProbeAccuracy):
                    metric.report_selected(chosen, scalars)
        return super().run()

    @torch.no_grad()
    def choose_heads(self) -> Tuple[Dict[str, str], Dict[str, float]]:
        """Readout -> its head best on the held-out split, and the scalars reporting the choice."""
        probe = unwrap_model(self.runner.model)
        self.selection.fill(probe, self.runner.logger)
        self.runner.model.eval()
        results = [s for batch in self.selection_loader for s in self.runner.model.test_step(batch)]
        top1 = top1_per_head(results)
        chosen = select_heads(top1, probe.head_specs)
        scalars = {}
        for readout, head in chosen.items():
            spec = probe.head_specs[head]
            scalars.update({f'heldout_top1_{readout}': top1[head],
                            f'lr_scale_{readout}': spec.lr_scale})
            if spec.weight_decay is not None:  # else the optimizer's
                scalars[f'weight_decay_{readout}'] = spec.weight_decay
            self.runner.logger.info(f'head selection: {readout} -> {head} (held-out top-1 '
                                    f'{top1[head]:.2f} on {len(results)} images)')
        return chosen, scalars


@METRICS.register_module()
class ProbeAccuracy(BaseMetric):
    """Top-1 accuracy (%) of each head, ``<prefix>/top1_<head>`` (a head per readout is named after
    it), and the number of samples it was measured on, ``<prefix>/num_samples``. After
    :meth:`report_selected`, only the chosen head of each readout, as ``<prefix>/top1_<readout>``,
    with the selection's scalars. In a runner, each reported top-1 is also recorded per image
    (:func:`engine.records.write_top1`: each image's correctness under the reported head, and its
    label)."""

    default_prefix = 'probe'

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.selected: Optional[Dict[str, str]] = None
        self.selection_scalars: Dict[str, float] = {}

    def report_selected(self, heads: Dict[str, str], scalars: Dict[str, float]) -> None:
        """Report ``top1_<readout>`` of head ``heads[readout]`` and ``scalars`` from now on."""
        self.selected, self.selection_scalars = dict(heads), dict(scalars)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(data_samples)

    def _reported_heads(self, results: List[dict]) -> Dict[str, str]:
        """The name each reported top-1 is logged under (``top1_<name>``) -> the head it reads."""
        if self.selected is None:
            return {h: h for h in results[0]['pred']}
        return dict(self.selected)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        top1 = top1_per_head(results)
        heads = self._reported_heads(results)
        metrics = {f'top1_{name}': top1[h] for name, h in heads.items()}
        if self.selected is not None:
            metrics.update(self.selection_scalars)
        self._write_records(results, heads, metrics)
        # a float: mmengine's json log drops numpy integers, which its message hub makes of ints
        return dict(metrics, num_samples=float(len(results)))

    def _write_records(self, results: List[dict], heads: Dict[str, str],
                       metrics: Dict[str, float]) -> None:
        """Record each image's correctness under every reported head, in the running evaluation's
        records folder (none outside a runner)."""
        folder = records.current_records_dir()
        if folder is None:
            return
        keys = {name: records.logged_key(self.prefix, f'top1_{name}') for name in heads}
        correct = {keys[name]: np.array([s['pred'][h] == s['gt'] for s in results])
                   for name, h in heads.items()}
        records.write_top1(folder, self.prefix, [s['gt'] for s in results], correct,
                           {keys[name]: metrics[f'top1_{name}'] for name in heads})
