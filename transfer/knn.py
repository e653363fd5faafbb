"""k-nearest-neighbour classification on a frozen encoder (SPEC section 4b), as an evaluation and as
a monitor of pretraining.

Each query's ``k`` nearest bank features by cosine similarity (L2-normalised features) vote for
their classes with weight ``exp(similarity / temperature)``; the class with the largest sum wins.

* :func:`knn_classify` and :class:`KNNBank`: the vote, on CPU or GPU, over queries in chunks so
  that no (queries x bank) matrix is larger than one chunk's.
* :class:`KNNClassifier` and :class:`KNNTestLoop`: ``tools/test.py CONFIG`` encodes the bank (the
  training split, or a class-balanced part of it) and then classifies the test split batch by
  batch, sharded over processes like any TestLoop; ``ProbeAccuracy`` gathers the predictions.
* :class:`KNNMonitorHook`: the same kNN on the target encoder every ``interval`` epochs of
  pretraining, logged as ``train/knn_top1``, without changing what training computes.
"""
import contextlib
import random
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.registry import HOOKS, LOOPS, MODELS
from mmengine.runner import TestLoop
from torch.utils.data import DataLoader

from engine.model import unwrap_model

from .classification import check_loop_classes, training_split
from .features import FrozenEncoderReadouts, check_readouts, encode_dataset, probe_features

__all__ = ['KNNBank', 'knn_classify', 'KNNClassifier', 'KNNTestLoop', 'KNNMonitorHook',
           'preserved_rng_state']


class KNNBank:
    """The L2-normalised features (N, D) and labels (N,) of a bank, normalised once and kept on
    the features' device, that classifies queries by the weighted vote of their neighbours."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
        if len(features) != len(labels):
            raise ValueError(f'a kNN bank needs one label per feature: {len(features)} features, '
                             f'{len(labels)} labels')
        outside = labels[(labels < 0) | (labels >= num_classes)]
        if len(outside):  # else the vote's scatter fails with an index error naming nothing
            raise ValueError(f'a kNN bank label {int(outside[0])} is not a class of num_classes = '
                             f'{num_classes} (labels 0..{num_classes - 1}); the bank holds '
                             f'{len(outside)} such labels')
        self.features = F.normalize(features.float(), dim=1)
        self.labels = labels.to(self.features.device, torch.long)
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.features)

    def classify(self, queries: torch.Tensor, k: int = 20, temperature: float = 0.07,
                 chunk_size: int = 256) -> torch.Tensor:
        """The predicted labels (Q,) of ``queries`` (Q, D), on the bank's device, ``chunk_size``
        queries at a time."""
        if not 0 < k <= len(self):
            raise ValueError(f'kNN with k={k} needs a bank of at least k images; this bank holds '
                             f'{len(self)}: lower k or use a larger bank')
        queries = F.normalize(queries.float().to(self.features.device), dim=1)
        return torch.cat([self._vote(chunk, k, temperature)
                          for chunk in queries.split(chunk_size)])

    def _vote(self, queries: torch.Tensor, k: int, temperature: float) -> torch.Tensor:
        similarity, index = (queries @ self.features.T).topk(k, dim=1)
        votes = queries.new_zeros(len(queries), self.num_classes)
        votes.scatter_add_(1, self.labels[index], (similarity / temperature).exp())
        return votes.argmax(1)  # a tie goes to the lowest label


def knn_classify(bank_features: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor,
                 num_classes: int, k: int = 20, temperature: float = 0.07,
                 chunk_size: int = 256) -> torch.Tensor:
    """The kNN labels (Q,) of ``queries`` (Q, D) against a bank (N, D) with labels (N,), on the
    bank's device: cosine similarity of L2-normalised features, the ``k`` nearest each voting for
    its class with weight ``exp(similarity / temperature)``, the largest sum winning. ``k`` larger
    than the bank is refused rather than clamped (it would be another protocol)."""
    return KNNBank(bank_features, bank_labels, num_classes).classify(queries, k, temperature,
                                                                     chunk_size)


@MODELS.register_module()
class KNNClassifier(FrozenEncoderReadouts, BaseModel):
    """A frozen encoder classifying by kNN against a bank of its own features, per readout.

    It has no trainable parameter: :class:`KNNTestLoop` encodes the bank
    (:meth:`set_bank`) and then tests it like any model (``mode='predict'``).

    Args:
        backbone: a :class:`~backbones.mm_backbone.JEPAViT` config (its ``init_cfg`` loads the
            pretrained target encoder); frozen and kept in eval mode.
        num_classes: classes of the task.
        readouts: any of :data:`~transfer.features.READOUTS`; ``'cls'`` needs
            ``use_cls_token=True``.
        k: neighbours that vote.
        temperature: the vote of a neighbour at cosine similarity s is ``exp(s / temperature)``.
    """

    def __init__(self, backbone: dict, num_classes: int, readouts: Sequence[str] = ('avg',),
                 k: int = 20, temperature: float = 0.07, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone).requires_grad_(False)
        check_readouts(readouts, self.backbone)
        self.readouts = tuple(readouts)
        self.num_classes, self.k, self.temperature = num_classes, k, temperature
        self.banks: Dict[str, KNNBank] = {}

    def set_bank(self, features: Dict[str, torch.Tensor], labels: torch.Tensor) -> None:
        """Classify against these bank features (per readout) and labels from now on; the bank
        is kept on the encoder's device."""
        device = next(self.backbone.parameters()).device
        self.banks = {r: KNNBank(features[r].to(device), labels, self.num_classes)
                      for r in self.readouts}

    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[dict]]:
        """``'tensor'``: the features per readout; ``'predict'``: ``dict(gt=label,
        pred={readout: label})`` per image, what ``ProbeAccuracy`` reads."""
        features = self.extract(inputs)
        if mode == 'tensor':
            return features
        if mode == 'predict':
            if not self.banks:
                raise RuntimeError("KNNClassifier has no bank to classify against: test it with "
                                   "test_cfg=dict(type='KNNTestLoop', bank_dataloader=...)")
            preds = {r: self.banks[r].classify(features[r], self.k, self.temperature).tolist()
                     for r in self.readouts}
            return [dict(gt=int(y), pred={r: p[i] for r, p in preds.items()})
                    for i, y in enumerate(data_samples.tolist())]
        raise ValueError(f'KNNClassifier has nothing to train; modes are tensor and predict, '
                         f'got mode={mode!r}')


def _build_dataloader(runner, dataloader: Union[DataLoader, dict]) -> DataLoader:
    return runner.build_dataloader(dataloader, seed=runner.seed)


@LOOPS.register_module()
class KNNTestLoop(TestLoop):
    """mmengine's TestLoop for a :class:`KNNClassifier`: it first encodes the bank, each process
    its shard, gathered so that every process holds all of it, then tests shard by shard.

    Args:
        bank_dataloader: the bank's dataloader (config), unshuffled; by default the test
            dataloader on its dataset's training split (:func:`training_split`: the training
            images through the test pipeline), else e.g. a ``ClassBalancedSubset`` of that split.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, dict], evaluator,
                 bank_dataloader: Union[DataLoader, dict, None] = None, fp16: bool = False) -> None:
        if bank_dataloader is None and isinstance(dataloader, DataLoader):
            raise ValueError('KNNTestLoop derives its bank from the test dataloader\'s config; '
                             'with a built dataloader, give bank_dataloader')
        bank_where = ('the bank (test_dataloader on its training split)' if bank_dataloader is None
                      else 'test_cfg.bank_dataloader.dataset')
        bank_dataloader = training_split(dataloader) if bank_dataloader is None else bank_dataloader
        super().__init__(runner, dataloader, evaluator, fp16)
        check_loop_classes(runner, self.dataloader.dataset, 'test_dataloader.dataset')
        self.bank_dataloader = _build_dataloader(runner, bank_dataloader)
        check_loop_classes(runner, self.bank_dataloader.dataset, bank_where)

    def run(self) -> dict:
        model = unwrap_model(self.runner.model)
        model.eval()
        self.runner.logger.info(f'kNN bank: encoding {len(self.bank_dataloader.dataset)} images')
        model.set_bank(*encode_dataset(model.extract, self.bank_dataloader,
                                       model.data_preprocessor, self.runner.logger))
        return super().run()


@contextlib.contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Leaves torch's (CPU and current CUDA device), numpy's and Python's global random states as
    they were before the block: iterating a DataLoader draws its base seed from torch's."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """``module`` in eval mode for the block; every submodule's own mode restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """kNN top-1 (%) of the target encoder every ``interval`` epochs of pretraining and after the
    last iteration, logged as ``train/knn_top1`` (and the seconds it took as
    ``train/knn_seconds``) beside the loss, with one log line.

    The bank and the queries are encoded in eval mode without gradients, each process its shard,
    gathered; the encoder's modes and the global random states are restored afterwards, so the
    training run is the same, bit for bit, with and without the monitor. The dataloaders are built
    when training starts, so a wrong data path fails then, not ``interval`` epochs later. The
    first iteration after an evaluation logs its seconds in ``data_time`` and ``time`` too.

    Args:
        interval: epochs between evaluations (of ``PretrainLoop``'s epochs).
        bank_dataloader: the bank's dataloader config; the pipeline must give images of the
            encoder's ``img_size`` (the test pipeline of the classification configs).
        query_dataloader: the queries' dataloader config.
        readout: one of :data:`~transfer.features.READOUTS`.
        k: neighbours that vote.
        temperature: the vote of a neighbour at cosine similarity s is ``exp(s / temperature)``.
    """

    priority = 55  # after the EMA update (ABOVE_NORMAL) and IterTimerHook, before LoggerHook

    def __init__(self, interval: int, bank_dataloader: Union[DataLoader, dict],
                 query_dataloader: Union[DataLoader, dict], readout: str = 'avg', k: int = 20,
                 temperature: float = 0.07) -> None:
        self.interval, self.readout, self.k, self.temperature = interval, readout, k, temperature
        self.dataloaders = dict(bank=bank_dataloader, query=query_dataloader)

    def before_train(self, runner) -> None:
        check_readouts((self.readout,), self._encoder(runner), 'model.encoder')
        try:
            with preserved_rng_state():
                self.dataloaders = {name: _build_dataloader(runner, loader)
                                    for name, loader in self.dataloaders.items()}
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'{err}\nThe kNN monitor (KNNMonitorHook in custom_hooks) reads its bank and '
                'queries from there. To pretrain without it, leave it out of custom_hooks, as the '
                "smoke configs do: custom_hooks = [h for h in _base_.custom_hooks if h['type'] "
                "!= 'KNNMonitorHook']") from err

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._due(runner):
            return
        start = time.perf_counter()
        top1 = self.knn_top1(self._encoder(runner))
        seconds = time.perf_counter() - start
        runner.message_hub.update_scalar('train/knn_top1', top1)
        runner.message_hub.update_scalar('train/knn_seconds', seconds)
        epoch = (runner.iter + 1) / len(runner.train_dataloader)
        runner.logger.info(
            f'kNN monitor after epoch {epoch:g}: top-1 {top1:.2f}% '
            f'({self.readout}, k={self.k}, {len(self.dataloaders["query"].dataset)} queries, bank '
            f'of {len(self.dataloaders["bank"].dataset)}) in {seconds:.1f} s')

    def _due(self, runner) -> bool:
        """Whether the iteration just done ends an ``interval``-th epoch or training."""
        done = runner.iter + 1
        return done % (self.interval * len(runner.train_dataloader)) == 0 or \
            done == runner.max_iters

    @staticmethod
    def _encoder(runner) -> nn.Module:
        model = unwrap_model(runner.model)
        if not hasattr(model, 'target_encoder'):
            raise AttributeError(f'KNNMonitorHook reads model.target_encoder (a JEPAModel); '
                                 f'{type(model).__name__} has none')
        return model.target_encoder

    def knn_top1(self, encoder: nn.Module) -> float:
        """kNN top-1 (%) of ``encoder``'s readout over the queries against the bank."""
        with preserved_rng_state(), _eval_mode(encoder):
            (bank, bank_labels), (queries, labels) = self._encode(encoder)
        num_classes = int(torch.cat([bank_labels, labels]).max()) + 1
        device = next(encoder.parameters()).device
        preds = knn_classify(bank.to(device), bank_labels, queries, num_classes, self.k,
                             self.temperature)
        return 100.0 * (preds.cpu() == labels).double().mean().item()

    def _encode(self, encoder: nn.Module) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """The (features, labels) of the bank and of the queries, for the hook's readout."""
        preprocessor = BaseDataPreprocessor().to(next(encoder.parameters()).device)
        out = []
        for name in ('bank', 'query'):
            features, labels = encode_dataset(
                lambda images: probe_features(encoder, images, (self.readout,)),
                self.dataloaders[name], preprocessor)
            out.append((features[self.readout], labels))
        return out
