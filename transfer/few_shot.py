"""MSN's few-images-per-class logistic regression on a frozen encoder (SPEC section 4e).

For each shot count ``k`` and each of a few draws of ``k`` training images per class (MSN's lists,
or :class:`~transfer.subsets.ImageSubset` draws seeded 0, 1, 2), a multinomial logistic
regression is fitted on the encoder's readouts of those images and tested on the whole test split:

* features: each readout (:data:`~transfer.features.READOUTS`) of the test pipeline's image,
  by default read without the encoder's final norm, as MSN reads the last block's CLS token (and
  likewise the average of its patch tokens, I-JEPA's readout), centred (minus its own mean) and
  L2-normalised per sample (:func:`centre_and_normalise`), for the training and the test images
  alike;
* the fit (:func:`fit_logistic`): scikit-learn's L-BFGS on the mean cross-entropy plus
  ``lambd / (2 n)`` times the squared Frobenius norm of the weights, no intercept, which is the
  objective MSN's script hands cyanure, solved to convergence or 300 iterations (see
  :func:`fit_logistic` for the stopping rule).

``tools/test.py CONFIG`` runs it (:class:`FewShotTestLoop`), in one process: only the union of the
drawn training images is encoded, once; the fits run on the CPU; then the test split is classified
batch by batch and :class:`FewShotAccuracy` reports each draw's top-1 and their mean.
"""
import os.path as osp
import re
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine import dist
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, LOOPS, METRICS, MODELS
from mmengine.runner import TestLoop
from torch.utils.data import DataLoader

from engine.model import unwrap_model

from .classification import IndexedSubset, check_loop_classes, training_split
from .features import TOKEN_READOUTS, FrozenEncoderReadouts, check_readouts, encode_dataset
from .probe import ProbeAccuracy
from .subsets import ImageSubset

__all__ = ['MSN_LAMBDA', 'centre_and_normalise', 'draw_subsets', 'fit_logistic', 'head_name',
           'msn_subset_file', 'FewShotLogistic', 'FewShotTestLoop', 'FewShotAccuracy']

#: MSN's default penalty (logistic_eval.py ``--lambd``), divided by the sample count before cyanure
MSN_LAMBDA = 2.5e-4
#: MSN's lists: draw (0-based) -> shots -> file under the folder; the third draw names its
#: 5-per-class list 3imgs_class.txt (it holds 5,000 names)
MSN_FILES = {draw: {k: f'imagenet_subsets{draw + 1}/{k}imgs_class.txt' for k in (1, 2, 5)}
             for draw in range(3)}
MSN_FILES[2][5] = 'imagenet_subsets3/3imgs_class.txt'
_HEAD = re.compile(r'(?P<mean>.+)_draw[0-9]+')


def msn_subset_file(folder: str, shots: int, draw: int) -> str:
    """The path of MSN's list of ``shots`` images per class for ``draw`` (0, 1 or 2) under
    ``folder``, the folder holding ``imagenet_subsets{1,2,3}``."""
    if draw not in MSN_FILES or shots not in MSN_FILES[draw]:
        raise KeyError(f'MSN ships lists of 1, 2 and 5 images per class for draws 0..2, not '
                       f'{shots} per class for draw {draw}: leave subsets_dir unset to draw them')
    return osp.join(folder, MSN_FILES[draw][shots])


def head_name(shots: int, readout: str, draw: int) -> str:
    """The name of one fit's classifier (and its ``top1_<name>`` metric), e.g.
    ``5shot_avg_draw0``; the mean over draws is logged as ``top1_5shot_avg``."""
    return f'{shots}shot_{readout}_draw{draw}'


def centre_and_normalise(features: torch.Tensor) -> torch.Tensor:
    """Features (N, D) in float64, each row minus its own mean, then scaled to unit L2 norm
    (cyanure's ``preprocess(centering=True, normalize=True, columns=False)``, MSN's step)."""
    x = features.double()
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def fit_logistic(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 lambd: float = MSN_LAMBDA, max_iter: int = 300,
                 tol: float = 0.0) -> Tuple[torch.Tensor, int]:
    """The weights (num_classes, D), float64, of the multinomial logistic regression without
    intercept on :func:`centre_and_normalise` d ``features`` (N, D), and the solver's iterations.

    The objective is ``mean_i CE(W x_i, y_i) + (lambd / N) / 2 * ||W||_F^2``: MSN's script divides
    its ``lambd`` by the sample count and cyanure minimises the mean loss plus ``lambda / 2`` times
    the squared norm. scikit-learn's documented objective is ``C * sum_i CE + ||W||^2 / 2``; divided
    by ``C * N`` it is ``mean_i CE + ||W||^2 / (2 C N)``, the same function when ``C = 1 / lambd``
    (scikit-learn's L-BFGS minimises exactly this scaled form).

    The stopping rules cannot be the same: cyanure's ``tol`` (1e-3 in MSN's script) bounds the
    relative duality gap, scikit-learn's is a bound on the largest gradient entry, and a gradient
    entry of this objective at ``W = 0`` is of the order of ``1 / num_classes`` times a feature
    entry, so ``tol=1e-3`` there ends the fit before its first step (W = 0: chance accuracy). With
    the default ``tol=0``, L-BFGS runs until an iteration lowers the objective by less than 64
    machine epsilons (relatively) or for ``max_iter`` iterations (MSN's 300; cyanure counts
    passes over the data): the minimiser of MSN's objective, whereas cyanure stops once its
    relative duality gap is below its ``tol``."""
    # imported here: every job imports transfer, and scikit-learn takes about a second to load
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    y = labels.numpy()
    counts = np.bincount(y, minlength=num_classes)
    if num_classes < 3 or (counts == 0).any():
        raise ValueError(f'the few-shot fit needs every one of at least 3 classes (a binary fit is '
                         f'another objective in scikit-learn); the training images hold '
                         f'{int((counts > 0).sum())} of {num_classes} classes')
    model = LogisticRegression(C=1.0 / lambd, fit_intercept=False, max_iter=max_iter, tol=tol,
                               solver='lbfgs')
    with warnings.catch_warnings():
        # the fit stops at max_iter, which the caller logs; and with a few images per class,
        # scikit-learn wonders whether so many classes are a regression target
        warnings.simplefilter('ignore', ConvergenceWarning)
        warnings.filterwarnings('ignore', 'The number of unique classes is greater than 50%')
        model.fit(centre_and_normalise(features).numpy(), y)
    return torch.from_numpy(model.coef_), int(model.n_iter_[0])


@MODELS.register_module()
class FewShotLogistic(FrozenEncoderReadouts, BaseModel):
    """A frozen encoder and, per readout, one logistic regression per (shots, draw), fitted by
    :class:`FewShotTestLoop` (:meth:`fit`) and then tested like any model (``mode='predict'``).

    Args:
        backbone: a :class:`~backbones.mm_backbone.JEPAViT` config (its ``init_cfg`` loads the
            pretrained target encoder); frozen and kept in eval mode.
        num_classes: classes of the task.
        readouts: any pooled readouts of :data:`~transfer.features.READOUTS` (``'avg'``;
            ``'cls'`` needs ``use_cls_token=True``).
        final_norm: read the blocks after the encoder's final norm (and pooled features through
            its ``fc_norm``); False, the default (MSN's features), reads the blocks' raw
            outputs.
        lambd: MSN's penalty, before its division by the sample count (:func:`fit_logistic`).
        max_iter: the solver's iteration limit.
        tol: scikit-learn's tolerance on the largest gradient entry (0: to convergence; see
            :func:`fit_logistic` on why MSN's 1e-3 is not passed).
    """

    def __init__(self, backbone: dict, num_classes: int, readouts: Sequence[str] = ('avg',),
                 final_norm: bool = False, lambd: float = MSN_LAMBDA, max_iter: int = 300,
                 tol: float = 0.0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone).requires_grad_(False)
        check_readouts(readouts, self.backbone)
        tokens = [r for r in readouts if r in TOKEN_READOUTS]
        if tokens:
            raise ValueError(f'readouts {tokens} give a feature per token; the logistic '
                             'regression reads one vector per image (e.g. avg, cls)')
        self.readouts = tuple(readouts)
        self.final_norm = final_norm  # what FrozenEncoderReadouts.extract reads
        self.num_classes, self.lambd, self.max_iter, self.tol = num_classes, lambd, max_iter, tol
        self.classifiers: Dict[str, Tuple[str, torch.Tensor]] = {}

    def fit(self, features: Dict[str, torch.Tensor], labels: torch.Tensor,
            draws: Dict[Tuple[int, int], Sequence[int]], logger=None) -> None:
        """Fit one classifier per readout and ``(shots, draw)``, on the rows ``draws[shots,
        draw]`` of the encoded ``features`` (per readout) and ``labels``."""
        self.classifiers = {}
        for (shots, draw), rows in draws.items():
            rows = torch.as_tensor(rows, dtype=torch.long)
            for readout in self.readouts:
                start = time.perf_counter()
                weights, iters = fit_logistic(features[readout][rows], labels[rows],
                                              self.num_classes, self.lambd, self.max_iter,
                                              self.tol)
                name = head_name(shots, readout, draw)
                self.classifiers[name] = (readout, weights)
                if logger is not None:
                    logger.info(f'few-shot {name}: fitted on {len(rows)} images in {iters} '
                                f'iterations ({time.perf_counter() - start:.1f} s)')

    def predict_features(self, features: Dict[str, torch.Tensor]) -> Dict[str, List[int]]:
        """Each classifier's labels of a batch's features (per readout), on the CPU in float64."""
        prepared = {r: centre_and_normalise(features[r].cpu()) for r in self.readouts}
        return {name: (prepared[readout] @ weights.T).argmax(1).tolist()
                for name, (readout, weights) in self.classifiers.items()}

    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[dict]]:
        """``'tensor'``: the features per readout; ``'predict'``: ``dict(gt=label,
        pred={classifier: label})`` per image, what :class:`FewShotAccuracy` reads."""
        features = self.extract(inputs)
        if mode == 'tensor':
            return features
        if mode == 'predict':
            if not self.classifiers:
                raise RuntimeError("FewShotLogistic has no fitted classifier: test it with "
                                   "test_cfg=dict(type='FewShotTestLoop')")
            preds = self.predict_features(features)
            return [dict(gt=int(y), pred={name: p[i] for name, p in preds.items()})
                    for i, y in enumerate(data_samples.tolist())]
        raise ValueError(f'FewShotLogistic trains in its test loop; modes are tensor and '
                         f'predict, got mode={mode!r}')


def _check_shots(labels: Sequence[int], shots: int, num_classes: int, where: str) -> None:
    """Refuse training images that are not exactly ``shots`` of each class."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    off = np.flatnonzero(counts != shots)
    if len(off):
        raise ValueError(f'{where}: expected {shots} images of each of the {num_classes} classes; '
                         f'{len(off)} classes have others, e.g. class {off[0]} has '
                         f'{counts[off[0]]}')


def draw_subsets(train, shots: Sequence[int], draws: int, num_classes: int,
                 subsets_dir: Optional[str] = None) -> Dict[Tuple[int, int], List[int]]:
    """(shots, draw) -> the indices, in the training set ``train``, of that fit's images: MSN's
    lists under ``subsets_dir`` (:func:`msn_subset_file`), else :class:`ImageSubset` draws of
    ``shots`` per class seeded ``draw``; either must hold ``shots`` images of every class."""
    out = {}
    for k in shots:
        for draw in range(draws):
            if subsets_dir is None:
                subset = ImageSubset(train, images_per_class=k, seed=draw)
            else:
                subset = ImageSubset(train, msn_subset_file(subsets_dir, k, draw))
            labels = [subset.get_data_info(i)['gt_label'] for i in range(len(subset))]
            _check_shots(labels, k, num_classes, subset.subset_file or f'draw {draw}')
            out[k, draw] = subset.indices
    return out


@LOOPS.register_module()
class FewShotTestLoop(TestLoop):
    """mmengine's TestLoop for a :class:`FewShotLogistic`: it first draws (or reads) the training
    images of every (shots, draw), encodes their union once, fits the classifiers, then tests.

    It runs in one process (``tools/test.py``) and refuses more: each process would repeat every
    fit (CPU-bound), and fitting in one while the others wait in a collective risks NCCL's
    default timeout (10 minutes) on a large encoder.

    Args:
        shots: the images per class of each fit.
        draws: the draws per shot count: seeds ``0..draws-1`` of :class:`ImageSubset`, or MSN's
            ``imagenet_subsets{1,2,3}`` with ``subsets_dir``.
        subsets_dir: the folder holding MSN's ``imagenet_subsets{1,2,3}/`` lists
            (:func:`msn_subset_file`); without it the draws are made here and written into the
            run folder.
        train_dataloader: the training images' dataloader (config), unshuffled; by default the
            test dataloader on its dataset's training split (the test pipeline, no augmentation).
    """

    def __init__(self, runner, dataloader: Union[DataLoader, dict], evaluator,
                 shots: Sequence[int] = (1, 2, 5), draws: int = 3,
                 subsets_dir: Optional[str] = None,
                 train_dataloader: Optional[dict] = None, fp16: bool = False) -> None:
        if dist.get_world_size() > 1:
            raise RuntimeError(f'FewShotTestLoop runs in one process (python tools/test.py '
                               f'CONFIG), not {dist.get_world_size()}: each would repeat every '
                               f'fit on the CPU')
        if train_dataloader is None and isinstance(dataloader, DataLoader):
            raise ValueError('FewShotTestLoop derives its training images from the test '
                             "dataloader's config; with a built dataloader, give "
                             'train_dataloader')
        # the training images' dataloader config (not mmengine's train_cfg: nothing trains here)
        self.train_loader_cfg = training_split(dataloader) if train_dataloader is None \
            else train_dataloader
        super().__init__(runner, dataloader, evaluator, fp16)
        check_loop_classes(runner, self.dataloader.dataset, 'test_dataloader.dataset')
        self.shots, self.draws, self.subsets_dir = tuple(shots), draws, subsets_dir

    def run(self) -> dict:
        model = unwrap_model(self.runner.model)
        model.eval()
        train = DATASETS.build(self.train_loader_cfg['dataset'])
        check_loop_classes(self.runner, train, 'the few-shot training images')
        draws = draw_subsets(train, self.shots, self.draws, model.num_classes, self.subsets_dir)
        union = sorted(set().union(*draws.values()))
        self.runner.logger.info(f'few-shot: encoding the {len(union)} training images of '
                                f'{len(draws)} draws')
        loader = self.runner.build_dataloader(dict(self.train_loader_cfg,
                                                   dataset=IndexedSubset(train, union)),
                                              seed=self.runner.seed)
        features, labels = encode_dataset(model.extract, loader, model.data_preprocessor,
                                          self.runner.logger)
        row = {index: i for i, index in enumerate(union)}
        model.fit(features, labels, {key: [row[i] for i in indices]
                                     for key, indices in draws.items()}, self.runner.logger)
        return super().run()


@METRICS.register_module()
class FewShotAccuracy(ProbeAccuracy):
    """:class:`~transfer.probe.ProbeAccuracy` of every classifier (``<prefix>/top1_<shots>shot_
    <readout>_draw<d>``) and, per shots and readout, the mean over the draws
    (``<prefix>/top1_<shots>shot_<readout>``), each recorded per image: a mean's per-image value
    is the image's correctness averaged over the draws (a fraction), so its records re-compute the
    mean on resamples of the test images."""

    default_prefix = 'fewshot'

    def correctness(self, results: List[dict]) -> Dict[str, np.ndarray]:
        correct = super().correctness(results)
        draws: Dict[str, List[np.ndarray]] = {}
        for name, values in correct.items():
            match = _HEAD.fullmatch(name)
            if match:
                draws.setdefault(match['mean'], []).append(values)
        return dict(correct, **{mean: np.mean(values, 0) for mean, values in draws.items()})
