"""The registry of pretraining methods the leaderboard compares.

A method is named by the configs' ``pretrain_method``; registering it gives it a column in the
table, bars in the chart and verdicts against the baseline, with no edit of the leaderboard. The
baseline (``random``, an encoder that was never pretrained) is the one every method is set against.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

#: the ``pretrain_method`` of a transfer run whose encoder was never pretrained
BASELINE = 'random'


@dataclass(frozen=True)
class Method:
    """How a method appears in the leaderboard.

    ``label`` heads its column; ``short`` names it in its difference column (``<short> - <first
    method's label>``); ``published`` maps (task, metric) to (value, source) of a published number.
    """
    name: str
    label: str
    short: str
    published: Dict[Tuple[str, str], Tuple[float, str]] = field(default_factory=dict)


METHODS: Dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method (its name not yet taken); return it."""
    if method.name in METHODS:
        raise KeyError(f'a method named {method.name!r} is registered already')
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a registered method (never the baseline)."""
    if name == BASELINE:
        raise ValueError(f'{BASELINE!r} is the baseline every method is set against')
    del METHODS[name]


def pretrained() -> List[Method]:
    """The registered methods other than the baseline, in the order of registration: the first is
    the one the others' differences are taken against."""
    return [m for m in METHODS.values() if m.name != BASELINE]


def baseline() -> Method:
    """The encoder that was never pretrained, which every method is set against."""
    return METHODS[BASELINE]


def in_table_order() -> List[Method]:
    """The pretrained methods, then the baseline: the order of the chart's bars."""
    return pretrained() + [baseline()]


# SPEC section 5 (ViT-B/16 unless the source says)
register(Method('ijepa', 'I-JEPA', 'I-JEPA', published={
    ('COCO', 'AP box'): (49.9, 'C-JEPA paper, ViT-B/16'),
    ('COCO', 'AP mask'): (44.5, 'C-JEPA paper, ViT-B/16'),
    ('ADE20K', 'mIoU'): (47.6, 'C-JEPA paper, ViT-B/16'),
    ('CLEVR Count', 'top-1 avg'): (86.7, 'I-JEPA paper Table 4, ViT-H/14, not VTAB-1k'),
    ('CLEVR Dist', 'top-1 avg'): (72.4, 'I-JEPA paper Table 4, ViT-H/14, not VTAB-1k'),
    ('ImageNet-1k linear', 'top-1 concat4'):
        (72.9, 'I-JEPA paper, ViT-B/16 600 ep, its VISSL protocol'),
    ('iNat21 linear', 'top-1 concat4'): (35.9, 'DSeq-JEPA paper Table 4, its ablation setting')}))
register(Method('dseq', 'DSeq-JEPA', 'DSeq', published={
    ('COCO', 'AP box'): (50.5, 'DSeq-JEPA project page, ViT-B/16'),
    ('ImageNet-1k linear', 'top-1 concat4'):
        (73.8, 'DSeq-JEPA paper, ViT-B/16, +- 0.4 over 3 seeds'),
    ('iNat21 linear', 'top-1 concat4'): (36.4, 'DSeq-JEPA paper Table 4, its ablation setting')}))
register(Method(BASELINE, 'random init', 'random'))
