"""The registry of the methods the leaderboard shows: the pretraining methods it compares, the
baselines set beside them (encoders other methods released: MAE, DINOv2, DeiT III) and the encoder
that was never pretrained.

A method is named by the configs' ``pretrain_method``; registering it gives it, wherever the
results hold a run of it, a column in the table, bars in the chart and verdicts against the
random-init encoder (``random``, the one every method is set against), with no edit of the
leaderboard.

Each published number carries the encoder size it was measured at, named as the leaderboard names
sizes (``ViT-B/16``, ``ViT-H/14``; ``@448`` marks an input other than 224, ``ViT-H`` a size whose
patch the source does not give). It stands in the row of the method's protocol readout in the suite
(for a baseline, the row of its declared readout), whichever readout its source used.
"""
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Tuple

#: the ``pretrain_method`` of a transfer run whose encoder was never pretrained
BASELINE = 'random'
#: the readouts a method's protocol reads: its CLS token, or the average of its patch tokens
READOUTS = ('cls', 'avg')


class Published(NamedTuple):
    """A published number: the table row it stands in (task, metric), the encoder size it was
    measured at, its value and its source."""
    task: str
    metric: str
    size: str
    value: float
    source: str


def _base(size: str) -> str:
    """A size without its input resolution: ``ViT-H/16@448`` -> ``ViT-H/16``."""
    return size.split('@')[0]


def _width(size: str) -> str:
    """A size's width and depth alone: ``ViT-H/16@448`` -> ``ViT-H``."""
    return _base(size).split('/')[0]


@dataclass(frozen=True)
class Method:
    """How a method appears in the leaderboard.

    ``label`` heads its column; ``short`` names it in its difference column (``<short> - <first
    method's label>``); ``readout`` is the readout its protocol reads (:data:`READOUTS`; None for
    the random-init encoder, whose configs are another method's); ``published`` its published
    numbers; ``compared`` tells a pretraining method the suite compares from a baseline set beside
    them.
    """
    name: str
    label: str
    short: str
    readout: Optional[str]
    published: Tuple[Published, ...] = ()
    compared: bool = True

    def published_at(self, task: str, metric: str, size: str) -> Optional[Published]:
        """The published number of a row: the one measured at the row's size, else one of the
        same width (the same patch at another input first: a ViT-H/14 row shows a ViT-H/16@448
        number, naming its size); None without one: a number of another width is not the row's."""
        found = [p for p in self.published if (p.task, p.metric) == (task, metric) and
                 _width(p.size) == _width(size)]
        return max(found, key=lambda p: (p.size == size, _base(p.size) == _base(size)),
                   default=None)


METHODS: Dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method (its name not yet taken, its readout one of :data:`READOUTS`); return it."""
    if method.name in METHODS:
        raise KeyError(f'a method named {method.name!r} is registered already')
    if method.name != BASELINE and method.readout not in READOUTS:
        raise ValueError(f'{method.name}: readout {method.readout!r} is not one of {READOUTS}')
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a registered method (never the random-init encoder)."""
    if name == BASELINE:
        raise ValueError(f'{BASELINE!r} is the baseline every method is set against')
    del METHODS[name]


def pretrained() -> List[Method]:
    """The registered methods other than the random-init encoder: the compared ones, then the
    baselines, each in the order of registration. The first of them with runs is the one the
    others' differences are taken against."""
    others = [m for m in METHODS.values() if m.name != BASELINE]
    return [m for m in others if m.compared] + [m for m in others if not m.compared]


def baseline() -> Method:
    """The encoder that was never pretrained, which every method is set against."""
    return METHODS[BASELINE]


def in_table_order() -> List[Method]:
    """The pretrained methods, then the random-init encoder: the order of the columns and bars."""
    return pretrained() + [baseline()]


def _numbers(*entries: Tuple[str, str, str, float, str]) -> Tuple[Published, ...]:
    """(task, metric, size, value, source) tuples as published numbers."""
    return tuple(Published(*e) for e in entries)


_IMAGENET = 'ImageNet-1k linear'
_KNN = 'ImageNet-1k kNN'
_CLEVR_SOURCE = 'I-JEPA paper Table 4, not VTAB-1k'
_PROBING = 'efficient-probing README'
_FINETUNE = 'ImageNet-1k fine-tune'
# at ViT-H the suite's fine-tune rows follow I-JEPA's recipe, MAE's numbers MAE's recipe
_MAE_H_FINETUNE = 'ImageNet-1k fine-tune (MAE H recipe)'
_ONE_PERCENT = 'ImageNet-1k 1% fine-tune'
_EP = 'ImageNet-1k attentive (EP)'
# EP's published numbers come from its own recipe, selected on the split they report
_EP_SOURCE = f'{_PROBING}: its LARS recipe, 90 ep, best epoch on val (the reported split)'
_MAE_FT = 'mae FINETUNE.md'
# I-JEPA's Table 2 reports, per method, the better of fine-tuning and linear probing on the 1%
_LOW_SHOT = 'I-JEPA paper Table 2, the better of fine-tuning and linear probing'
_IJEPA_FT = 'I-JEPA paper Table 15, its own recipe at 448'
# the frozen dense linear probes (SPEC section 4h): DINOv2's own table, every encoder through the
# same heads; its depth heads read each layer's CLS token beside the patches (the '+token' rows)
_ADE_LINEAR = 'ADE20K linear'
_NYU_LIN1 = 'NYU-Depth v2 linear +token'
_NYU_LIN4 = 'NYU-Depth v2 linear 4 +token'
_DINOV2_DENSE = 'DINOv2 paper, its linear heads'

# SPEC section 5
register(Method('ijepa', 'I-JEPA', 'I-JEPA', 'avg', _numbers(
    ('COCO', 'AP box', 'ViT-B/16', 49.9, 'C-JEPA paper'),
    ('COCO', 'AP mask', 'ViT-B/16', 44.5, 'C-JEPA paper'),
    ('ADE20K', 'mIoU', 'ViT-B/16', 47.6, 'C-JEPA paper'),
    ('CLEVR Count', 'top-1 avg', 'ViT-H/14', 86.7, _CLEVR_SOURCE),
    ('CLEVR Dist', 'top-1 avg', 'ViT-H/14', 72.4, _CLEVR_SOURCE),
    (_IMAGENET, 'top-1 concat4', 'ViT-B/16', 72.9, 'I-JEPA paper, 600 ep, its VISSL protocol'),
    (_IMAGENET, 'top-1 concat4', 'ViT-H/14', 79.3, 'I-JEPA paper Table 1'),
    (_IMAGENET, 'top-1 concat4', 'ViT-H/16@448', 81.1, 'I-JEPA paper'),
    (_KNN, 'top-1 concat4', 'ViT-H/14', 68.1, _PROBING),
    (_EP, 'top-1 patches', 'ViT-H/14', 79.0, _EP_SOURCE),
    (_FINETUNE, 'top-1 avg', 'ViT-H/16@448', 87.1, _IJEPA_FT),
    (_ONE_PERCENT, 'top-1 avg', 'ViT-L/16', 69.4, f'{_LOW_SHOT}, 600 ep'),
    (_ONE_PERCENT, 'top-1 avg', 'ViT-H/14', 73.3, f'{_LOW_SHOT}, 300 ep'),
    (_ONE_PERCENT, 'top-1 avg', 'ViT-H/16@448', 77.3, f'{_LOW_SHOT}, 300 ep'),
    ('iNat21 linear', 'top-1 concat4', 'ViT-B/16', 35.9,
     'DSeq-JEPA paper Table 4, its ablation setting'))))
register(Method('dseq', 'DSeq-JEPA', 'DSeq', 'cls', _numbers(
    ('COCO', 'AP box', 'ViT-B/16', 50.5, 'DSeq-JEPA project page'),
    (_IMAGENET, 'top-1 concat4', 'ViT-B/16', 73.8, 'DSeq-JEPA paper, +- 0.4 over 3 seeds'),
    # "+1.3" over I-JEPA's ViT-H 81.1, which is ViT-H/16 at 448: that setting (inferred)
    (_IMAGENET, 'top-1 concat4', 'ViT-H/16@448', 82.4,
     'DSeq-JEPA project page, "+1.3" over I-JEPA\'s 81.1'),
    ('iNat21 linear', 'top-1 concat4', 'ViT-B/16', 36.4,
     'DSeq-JEPA paper Table 4, its ablation setting'))))
register(Method('mae', 'MAE', 'MAE', 'avg', _numbers(
    ('COCO', 'AP box', 'ViT-B/16', 50.3, 'MAE paper'),
    ('COCO', 'AP mask', 'ViT-B/16', 44.9, 'MAE paper'),
    ('ADE20K', 'mIoU', 'ViT-B/16', 48.1, 'MAE paper'),
    ('CLEVR Count', 'top-1 avg', 'ViT-H/14', 90.5, _CLEVR_SOURCE),
    ('CLEVR Dist', 'top-1 avg', 'ViT-H/14', 72.4, _CLEVR_SOURCE),
    (_IMAGENET, 'top-1 avg', 'ViT-B/16', 67.8, _PROBING),
    (_IMAGENET, 'top-1 avg', 'ViT-H/14', 77.2, 'I-JEPA paper Table 1'),
    (_KNN, 'top-1 avg', 'ViT-B/16', 35.6, _PROBING),
    (_EP, 'top-1 patches', 'ViT-B/16', 75.5, _EP_SOURCE),
    (_FINETUNE, 'top-1 avg', 'ViT-B/16', 83.6, f'{_MAE_FT}: 83.66 released, 4-seed mean 83.57'),
    (_MAE_H_FINETUNE, 'top-1 avg', 'ViT-H/14', 86.9, _MAE_FT),
    (_MAE_H_FINETUNE, 'top-1 avg', 'ViT-H/14@448', 87.8, 'I-JEPA paper Table 15'),
    (_ONE_PERCENT, 'top-1 avg', 'ViT-L/16', 67.1, _LOW_SHOT),
    (_ONE_PERCENT, 'top-1 avg', 'ViT-H/14', 71.5, _LOW_SHOT),
    (_ADE_LINEAR, 'mIoU', 'ViT-H/14', 33.3, _DINOV2_DENSE),
    (_NYU_LIN1, 'RMSE', 'ViT-H/14', 0.517, _DINOV2_DENSE),
    (_NYU_LIN4, 'RMSE', 'ViT-H/14', 0.483, _DINOV2_DENSE)), compared=False))
register(Method('dinov2', 'DINOv2', 'DINOv2', 'cls', _numbers(
    (_IMAGENET, 'top-1 cls', 'ViT-B/14', 83.5, _PROBING),
    (_KNN, 'top-1 cls', 'ViT-B/14', 79.3, _PROBING),
    # EP reads the CLS token beside the patches of CLS-trained encoders
    (_EP, 'top-1 cls_patches', 'ViT-B/14', 84.0, _EP_SOURCE),
    (_ADE_LINEAR, 'mIoU', 'ViT-B/14', 47.3, _DINOV2_DENSE),
    (_NYU_LIN1, 'RMSE', 'ViT-B/14', 0.399, _DINOV2_DENSE),
    (_NYU_LIN4, 'RMSE', 'ViT-B/14', 0.362, _DINOV2_DENSE)), compared=False))
register(Method('deit3', 'DeiT III (supervised)', 'DeiT III', 'cls', compared=False))
register(Method(BASELINE, 'random init', 'random', None))
