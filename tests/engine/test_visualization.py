"""The TensorBoard switch: one config value adds mmengine's TensorBoard backend to any config."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.visualization import Visualizer

from engine.visualization import apply_logging_switches

from tests.helpers import ROOT, config_files
CONFIGS = [p for p in config_files()
           if '_base_' not in p and f'{osp.sep}suite{osp.sep}' not in p]


def _backends(cfg: Config):
    return [b['type'] for b in cfg.visualizer.vis_backends]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_every_config_has_the_switch_off_by_default_and_on_adds_tensorboard(path):
    cfg = Config.fromfile(path)
    assert cfg.tensorboard is False
    assert _backends(apply_logging_switches(cfg)) == ['LocalVisBackend']
    cfg.merge_from_dict({'tensorboard': True})
    apply_logging_switches(apply_logging_switches(cfg))  # twice: still one TensorBoard backend
    assert _backends(cfg) == ['LocalVisBackend', 'TensorboardVisBackend']


def test_tensorboard_event_files_hold_the_logged_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cfg = apply_logging_switches(Config.fromfile(CONFIGS[0], lazy_import=False))
    cfg.merge_from_dict({'tensorboard': True})
    apply_logging_switches(cfg)
    visualizer = Visualizer(name='tb_switch', save_dir=str(tmp_path),
                            vis_backends=cfg.visualizer.vis_backends)
    for step, loss in enumerate([0.5, 0.25]):
        visualizer.add_scalars({'loss': loss}, step=step)
    visualizer.close()
    events = EventAccumulator(str(tmp_path / 'vis_data')).Reload()
    assert [(e.step, e.value) for e in events.Scalars('loss')] == [(0, 0.5), (1, 0.25)]
    assert osp.exists(tmp_path / 'vis_data' / 'scalars.json')  # the leaderboard's file stays
