"""The logging switches a config turns on with one value, whatever its family's visualizer.

``tensorboard = True`` (in a config, or ``--cfg-options tensorboard=True``) adds mmengine's
``TensorboardVisBackend`` beside the ``LocalVisBackend`` every run keeps (the leaderboard reads the
latter), so the scalars also go to ``<run>/vis_data/`` as TensorBoard event files. It is a key of
its own rather than a list to edit because a list in ``--cfg-options`` replaces the base's whole
list, and the detection and segmentation families swap the visualizer's type.
"""
from mmengine.config import Config

TENSORBOARD = dict(type='TensorboardVisBackend')


def apply_logging_switches(cfg: Config) -> Config:
    """Add the visualizer backends the config's switches ask for (idempotent); return ``cfg``."""
    if cfg.get('tensorboard', False):
        backends = cfg.visualizer.setdefault('vis_backends', [dict(type='LocalVisBackend')])
        if not any(b.get('type') == TENSORBOARD['type'] for b in backends):
            backends.append(dict(TENSORBOARD))
    return cfg
