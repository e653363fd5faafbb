"""Probe loops over features encoded once: the encoder never changes during a probe, so
:class:`FeatureCacheTrainLoop` (and the val/test loops) encode their dataset once, keep the features
in memory and iterate over them: 100 epochs of a linear layer then take seconds. The model, the
optimiser, the schedulers, the hooks, the checkpoints and the logs are mmengine's, as for any other
config. A cached probe is meant to run in one process: the features of a split fit in memory (the
15,000 CLEVR test scenes at ViT-B are 46 MB per readout), and every process would otherwise encode
the whole split. With a ``feature_store`` folder in the config, features are also kept on disk, and
a later probe of the same encoder on the same images (CLEVR Dist after Count) loads them instead of
encoding (:mod:`transfer.feature_store`).

:class:`FeatureCacheTestLoop` with a ``selection_dataloader`` (a held-out part of the training set)
reports, per readout, the test top-1 of the head of a grid best on that held-out data.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine import dist
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.utils.data import DataLoader

from engine.model import unwrap_model
from .classification import check_loop_classes
from .feature_store import FeatureStore
from .features import encode_dataset
from .probe import LinearProbe, ProbeAccuracy, select_heads, top1_per_head

__all__ = ['FeatureCache', 'FeatureCacheTrainLoop', 'FeatureCacheValLoop', 'FeatureCacheTestLoop',
           'choose_heads', 'heldout_part', 'score_heads']

class FeatureCache(torch.utils.data.Dataset):
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

    def fill(self, model: LinearProbe, logger: MMLogger) -> None:
        """Encode the images with ``model.extract`` (or load their features from the store),
        unless that has been done."""
        if self.features is not None:
            return
        dataset = self.image_dataloader.dataset
        key = self.store.key(model, dataset, self.dtype) if self.store is not None else None
        if key is not None:
            self.features = self.store.load(key, len(self), logger, model.readouts)
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


def _feature_loader(cache: FeatureCache, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
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

    #: the config key of the loop's dataloader, in errors
    DATALOADER_KEY = ''

    def _use_cache(self, batch_size: int, shuffle: bool, dtype: str) -> None:
        # before anything is encoded: a label the heads have no output for fails here, named
        check_loop_classes(self.runner, self.dataloader.dataset, f'{self.DATALOADER_KEY}.dataset')
        self.image_dataloader = self.dataloader
        self.cache = FeatureCache(self.image_dataloader, dtype, feature_store(self.runner))
        self.dataloader = _feature_loader(self.cache, batch_size, shuffle, self.runner.seed or 0)

    def run(self):
        self.cache.fill(unwrap_model(self.runner.model), self.runner.logger)
        return super().run()


@LOOPS.register_module()
class FeatureCacheTrainLoop(_FeatureCacheMixin, EpochBasedTrainLoop):
    """EpochBasedTrainLoop over features encoded once; ``batch_size`` batches the features (the
    dataloader's own batch size only sets how many images are encoded at a time). The features are
    kept in ``feature_dtype`` (float16 halves the memory; the heads read float32)."""

    DATALOADER_KEY = 'train_dataloader'

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

    DATALOADER_KEY = 'val_dataloader'


def heldout_part(train_dataloader: Optional[dict], test_dataloader: dict) -> dict:
    """The held-out part of a training set whose rest the probe trained on: the training
    dataloader's ``ClassBalancedSubset`` (``part='rest'``) as ``part='subset'``, loaded as the
    test split is (``test_dataloader``'s config)."""
    dataset = (train_dataloader or {}).get('dataset') or {}
    if dataset.get('type') != 'ClassBalancedSubset' or dataset.get('part') != 'rest':
        raise ValueError("select_on_heldout needs train_dataloader.dataset = dict("
                         "type='ClassBalancedSubset', part='rest', ...) (the probe trains on the "
                         f"rest of a held-out slice); got {dict(dataset)}")
    return ConfigDict(test_dataloader, dataset=dict(dataset, part='subset'))


@LOOPS.register_module()
class FeatureCacheTestLoop(_FeatureCacheEvalLoop, TestLoop):
    """TestLoop over features encoded once.

    With ``selection_dataloader`` (a held-out part of the training set, e.g. a
    ``ClassBalancedSubset`` with ``part='subset'`` of the training set the probe was trained on the
    ``'rest'`` of; ``select_on_heldout=True`` derives it from the training dataloader, see
    :func:`heldout_part`), every head is first scored on its features; per readout the best
    head's test top-1 is reported as ``top1_<readout>``, with its ``lr_scale_<readout>``,
    ``weight_decay_<readout>`` (a grid head's) and ``heldout_top1_<readout>``. The choice is made
    before the test split is encoded and from the held-out split alone, and it needs no state in
    the checkpoint.
    """

    DATALOADER_KEY = 'test_dataloader'

    def __init__(self, runner, dataloader, evaluator, batch_size: int = 1024,
                 feature_dtype: str = 'float32', selection_dataloader=None,
                 select_on_heldout: bool = False, **kwargs) -> None:
        super().__init__(runner, dataloader, evaluator, batch_size=batch_size,
                         feature_dtype=feature_dtype, **kwargs)
        self.selection: Optional[FeatureCache] = None
        if select_on_heldout:
            selection_dataloader = heldout_part(runner.cfg.get('train_dataloader'), dataloader)
        if selection_dataloader is not None:
            if not any(isinstance(m, ProbeAccuracy) for m in self.evaluator.metrics):
                raise TypeError('FeatureCacheTestLoop with a selection_dataloader reports through '
                                "ProbeAccuracy: test_evaluator needs type='ProbeAccuracy'")
            images = runner.build_dataloader(selection_dataloader, seed=runner.seed)
            check_loop_classes(runner, images.dataset, (
                'the held-out part of train_dataloader.dataset (select_on_heldout)'
                if select_on_heldout else 'test_cfg.selection_dataloader.dataset'))
            self.selection = FeatureCache(images, feature_dtype, feature_store(runner))
            self.selection_loader = _feature_loader(self.selection, batch_size, False, 0)

    def run(self) -> dict:
        if self.selection is not None:
            chosen, scalars = self.choose_heads()
            for metric in self.evaluator.metrics:
                if isinstance(metric, ProbeAccuracy):
                    metric.report_selected(chosen, scalars)
        return super().run()

    def choose_heads(self) -> Tuple[Dict[str, str], Dict[str, float]]:
        """Readout -> its head best on the held-out split, and the scalars reporting the choice."""
        probe = unwrap_model(self.runner.model)
        self.selection.fill(probe, self.runner.logger)
        top1, count = score_heads(self.runner, self.selection_loader)
        return choose_heads(probe, top1, count, self.runner.logger)


def score_heads(runner, loader: DataLoader) -> Tuple[Dict[str, float], int]:
    """Every head's top-1 on a dataloader (of images or of cached features; each process scores
    its shard and the results are gathered), and the number of samples."""
    model = runner.model
    model.eval()
    with torch.no_grad():
        results = [s for batch in loader for s in model.test_step(batch)]
    size = len(loader.dataset)
    results = dist.collect_results(results, size, device='cpu')
    top1 = [top1_per_head(results) if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(top1)
    return top1[0], size


def choose_heads(probe: LinearProbe, top1: Dict[str, float], count: int, logger: MMLogger
                 ) -> Tuple[Dict[str, str], Dict[str, float]]:
    """Readout -> its head of best held-out ``top1`` (measured on ``count`` images), and the
    scalars reporting the choice: ``heldout_top1_<readout>``, ``lr_scale_<readout>`` and a grid
    head's ``weight_decay_<readout>``; each choice is logged."""
    chosen = select_heads(top1, probe.head_specs)
    scalars = {}
    for readout, head in chosen.items():
        spec = probe.head_specs[head]
        scalars.update({f'heldout_top1_{readout}': top1[head],
                        f'lr_scale_{readout}': spec.lr_scale})
        if spec.weight_decay is not None:  # else the optimizer's
            scalars[f'weight_decay_{readout}'] = spec.weight_decay
        logger.info(f'head selection: {readout} -> {head} (held-out top-1 {top1[head]:.2f} on '
                    f'{count} images)')
    return chosen, scalars
