"""Linear probes on a frozen encoder: :class:`LinearProbe` trains linear heads on its readouts
(:mod:`transfer.features`), from images encoded without gradients at every step (mmengine's plain
loops, as a protocol with augmentation needs) or from features encoded once
(:mod:`transfer.feature_cache`'s loops).

A probe may train a grid of heads per readout (``head_grid``: learning-rate scales x weight decays)
side by side, each in its own param group (:class:`ProbeHeadsOptimWrapperConstructor`);
:class:`ProbeAccuracy` reports every head's top-1, or, once a head per readout has been chosen on
held-out data (:func:`select_heads`), the chosen heads' alone.
"""
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import (METRICS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                               OPTIMIZERS)

from engine.model import unwrap_model
from engine import records
from .features import FrozenEncoderReadouts, check_readouts, readout_width

__all__ = ['LinearProbe', 'HeadSpec', 'ProbeHeadsOptimWrapperConstructor', 'ProbeAccuracy',
           'HEAD_NORMS', 'grid_head_name', 'select_heads', 'top1_per_head']

#: head_norm -> what each head puts before its linear layer
HEAD_NORMS = {
    None: 'nothing',
    'standardise': 'a BatchNorm without affine parameters, its statistics averaged over all '
                   'training batches (MAE\'s linear probe)',
    'batchnorm': 'a BatchNorm with affine parameters, torch\'s defaults (the DSeq-JEPA '
                 'authors\' probe)',
}

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
class LinearProbe(FrozenEncoderReadouts, BaseModel):
    """A frozen encoder and linear heads on its readouts, trained side by side.

    Args:
        backbone: a :class:`~backbones.mm_backbone.JEPAViT` config (its ``init_cfg`` loads the
            pretrained target encoder); frozen and kept in eval mode.
        num_classes: classes of the task.
        readouts: any of :data:`~transfer.features.READOUTS`; ``'cls'`` needs
            ``use_cls_token=True``.
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
        self.head_norm = head_norm
        self.heads = nn.ModuleDict({name: self.build_head(spec, num_classes)
                                    for name, spec in self.head_specs.items()})

    def build_head(self, spec: HeadSpec, num_classes: int) -> nn.Module:
        """The head of ``spec``, mapping its readout's features to logits: here a linear layer
        after ``head_norm``'s layer; a probe with other heads overrides this."""
        width = readout_width(spec.readout, self.backbone.embed_dim)
        return linear_head(width, num_classes, self.head_norm)

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


@METRICS.register_module()
class ProbeAccuracy(BaseMetric):
    """Top-1 accuracy (%) of each head, ``<prefix>/top1_<head>`` (a head per readout is named after
    it), and the number of samples it was measured on, ``<prefix>/num_samples``. After
    :meth:`report_selected`, only the chosen head of each readout, as ``<prefix>/top1_<readout>``,
    with the selection's scalars. In a runner, each reported top-1 is also recorded per image
    (:func:`engine.records.write_top1`: each image's correctness under the reported head, paired
    by its path and label)."""

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

    def correctness(self, results: List[dict]) -> Dict[str, np.ndarray]:
        """Reported name (``top1_<name>``) -> each image's correctness under the head it reads:
        booleans here; a metric reporting means over several heads gives fractions."""
        return {name: np.array([s['pred'][h] == s['gt'] for s in results])
                for name, h in self._reported_heads(results).items()}

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        correct = self.correctness(results)
        metrics = {f'top1_{name}': 100.0 * float(np.sum(c)) / len(c) for name, c in correct.items()}
        if self.selected is not None:
            metrics.update(self.selection_scalars)
        self._write_records(results, correct, metrics)
        # a float: mmengine's json log drops numpy integers, which its message hub makes of ints
        return dict(metrics, num_samples=float(len(results)))

    def _write_records(self, results: List[dict], correct: Dict[str, np.ndarray],
                       metrics: Dict[str, float]) -> None:
        """Record each image's correctness under every reported name, in the running evaluation's
        records folder (none outside a runner), each image named by its dataset
        (:meth:`evaluated_images`)."""
        folder = records.current_records_dir()
        if folder is None:
            return
        keys = {name: records.logged_key(self.prefix, f'top1_{name}') for name in correct}
        records.write_top1(folder, self.prefix, [s['gt'] for s in results],
                           {keys[name]: c for name, c in correct.items()},
                           {keys[name]: metrics[f'top1_{name}'] for name in correct},
                           images=self.evaluated_images(results))

    def evaluated_images(self, results: List[dict]) -> Optional[List[str]]:
        """Each result's image as ``'<path>#<label>'`` (:func:`engine.records.image_keys`): the
        evaluated dataset's ``metainfo['images']``, which mmengine's loops hand the metric as its
        ``dataset_meta``, checked against the results (as many, the same labels: mmengine gathers
        them in dataset order). None, with a warning, where they do not match or are missing."""
        images = (self.dataset_meta or {}).get('images')
        unpaired = 'its records do not identify their images and pair with no other run\'s'
        if not images:
            warnings.warn(f'{type(self).__name__}: the evaluated dataset names no images '
                          f"(metainfo['images']): {unpaired}", stacklevel=2)
            return None
        labels = [int(s['gt']) for s in results]
        if len(images) != len(labels) or any(
                not key.endswith(f'#{label}') for key, label in zip(images, labels)):
            warnings.warn(f'{type(self).__name__}: {len(results)} results do not follow the '
                          f'{len(images)} images of the evaluated dataset in order (a shuffled '
                          f'or partial evaluation?): {unpaired}', stacklevel=2)
            return None
        return list(images)
