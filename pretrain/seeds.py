"""The seeds of pretraining's random draws, each a pure function of integers such as the run's
seed, the step and the rank, so a resumed run draws exactly what an uninterrupted run draws.

Draws that must not share a stream (the masks', the curriculum's, each ablation switch's) differ in
a stream number among those integers; the streams are all here, so that they stay apart.
"""
import os

import numpy as np
import torch
from mmengine.dist import get_rank

__all__ = ['CURRICULUM_STREAM', 'ORDER_STREAM', 'REGION_CURRICULUM_STREAM', 'UNIFORM_STREAM',
           'derive_seed', 'process_rank', 'seeded_generator']

# The masks draw from (seed, step) and (seed, step, rank) without a stream number.
#: DSeq-JEPA's per-step curriculum (:func:`pretrain.dseq.curriculum_draw`).
CURRICULUM_STREAM = 0x5EC
#: Uniform regions (:func:`pretrain.ablations.uniform_regions`).
UNIFORM_STREAM = 0x0B10C
#: The per-region curriculum (:func:`pretrain.ablations.per_region_curriculum`).
REGION_CURRICULUM_STREAM = 0x5EC2
#: The random sequence order (:func:`pretrain.ablations.order_regions`).
ORDER_STREAM = 0x0DE5


def derive_seed(*entropy: int) -> int:
    """A 32-bit seed from non-negative integers (seed, step, ...), well mixed and reproducible."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0])


def seeded_generator(*entropy: int) -> torch.Generator:
    """A CPU generator seeded with :func:`derive_seed` of ``entropy``."""
    return torch.Generator().manual_seed(derive_seed(*entropy))


def process_rank() -> int:
    """This process's rank, also inside data workers started with spawn (launchers set RANK)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return get_rank()
    return int(os.environ.get('RANK', 0))
