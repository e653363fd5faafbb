"""A config's parameter schedulers against its run's length, checked before the runner is built.

mmengine sets a scheduler's missing ``end`` to ``train_cfg.max_epochs`` (``max_iters`` when
``by_epoch=False``) and refuses one that ends where or before it begins with "end should be larger
than begin", naming no config key. A warm-up at least as long as the run does exactly that to the
cosine after it (pretraining's ``warmup_epochs``, the dense tasks' ``warmup_iters``):
:func:`check_param_schedulers` refuses it first, naming the keys to change. It reads the config
alone, so every entry point can call it on any family's config (pretraining, probes, dense tasks).
"""
from typing import Optional, Sequence

__all__ = ['check_param_schedulers']


def _variable_holding(cfg, value: float, names: Sequence[str]) -> Optional[str]:
    """The first of ``names`` (top-level config variables, e.g. ``warmup_epochs``) whose value is
    ``value``: the key a user changes to move a scheduler's begin or end."""
    for name in names:
        held = cfg.get(name)
        if isinstance(held, (int, float)) and not isinstance(held, bool) and held == value:
            return name
    return None


def check_param_schedulers(cfg) -> None:
    """Refuse a ``param_scheduler`` entry of ``cfg`` that would begin at or after its end, naming
    the config keys, before the runner is built. mmengine sets a scheduler's missing ``end`` to
    ``train_cfg.max_epochs`` (``max_iters`` when ``by_epoch=False``), so a warm-up at least as long
    as the run makes the cosine after it begin after it ends, and mmengine's own error ("end should
    be larger than begin") names no key. A scheduler that begins where a shortened run ends, with
    an ``end`` of its own, is left to mmengine, which skips it (a run trained in parts)."""
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    train_cfg = cfg.get('train_cfg') or {}
    variables = sorted(k for k in cfg.keys() if isinstance(k, str))
    for i, scheduler in enumerate(schedulers):
        by_epoch = scheduler.get('by_epoch', True)
        unit, length_key = ('epoch', 'max_epochs') if by_epoch else ('iteration', 'max_iters')
        begin, end = scheduler.get('begin', 0), scheduler.get('end')
        end_name = None if end is not None else f'train_cfg.{length_key}'
        end = train_cfg.get(length_key) if end is None else end
        if not all(isinstance(v, (int, float)) for v in (begin, end)) or begin < end:
            continue
        begin_name = (_variable_holding(cfg, begin, [v for v in variables if 'warmup' in v])
                      or f'param_scheduler[{i}].begin')
        end_name = end_name or (_variable_holding(
            cfg, end, [length_key] + [v for v in variables if 'max' in v and v != length_key])
            or f'param_scheduler[{i}].end')
        raise ValueError(
            f'{begin_name}={begin} >= {end_name}={end}: param_scheduler[{i}] '
            f'({scheduler.get("type")}) would begin at {unit} {begin} and end at {unit} {end} (no '
            'scheduler may end where or before it begins). A warm-up must end before the run does: '
            f'shorten it ({begin_name}, and the schedulers that begin or end with it) or lengthen '
            f'the run ({end_name})')
