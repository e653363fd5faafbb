"""Every transfer config says which checkpoint (or head) it reports and how it was chosen, and
nothing is ever chosen on the split it reports (SPEC section 6: the authors' downstream code picks
its best COCO epoch on val2017, the split it reports; the suite never does)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.helpers import ROOT, config_files
from transfer.feature_cache import heldout_part
_ALL = [p for p in config_files() if f'{osp.sep}_base_{osp.sep}' not in p]
TRANSFER = [p for p in _ALL if 'report' in Config.fromfile(p)]
PRESETS = sorted(glob.glob(osp.join(ROOT, 'configs', 'suite', '*.py')))
NOTHING_CHOSEN = ('no selection', 'no training')


def _dataset(cfg: Config, loader: str):
    return (cfg.get(loader) or {}).get('dataset')


def chosen_on(cfg: Config):
    """The dataset something is chosen on (a best checkpoint, a head), or None."""
    if (cfg.get('default_hooks', {}).get('checkpoint') or {}).get('save_best'):
        return _dataset(cfg, 'val_dataloader')
    test_cfg = cfg.get('test_cfg') or {}
    selection = test_cfg.get('selection_dataloader')
    if test_cfg.get('select_on_heldout'):
        selection = heldout_part(cfg.train_dataloader, cfg.test_dataloader)
    return selection['dataset'] if selection else None


def test_every_transfer_family_is_covered():
    names = {osp.basename(osp.dirname(p)) for p in TRANSFER}  # the task's folder
    assert {'maskrcnn', 'upernet', 'clevr', 'linear', 'knn'} <= names


@pytest.mark.parametrize('path', TRANSFER, ids=lambda p: osp.relpath(p, ROOT))
def test_selection_is_stated_and_never_on_the_reported_split(path):
    cfg = Config.fromfile(path)
    stated = cfg.report.get('selection')
    assert isinstance(stated, str) and stated, f'{path}: report.selection is not set'
    chosen = chosen_on(cfg)
    if chosen is None:
        assert any(s in stated for s in NOTHING_CHOSEN), (path, stated)
        return
    assert not any(s in stated for s in NOTHING_CHOSEN), (path, stated)
    assert chosen != _dataset(cfg, 'test_dataloader'), f'{path} selects on its test split'
    if chosen.get('type') == 'ClassBalancedSubset':  # a held-out part of train, not trained on
        trained = _dataset(cfg, 'train_dataloader')
        assert (chosen['part'], trained['part']) == ('subset', 'rest')
        assert {k: v for k, v in chosen.items() if k != 'part'} == \
            {k: v for k, v in trained.items() if k != 'part'}


@pytest.mark.parametrize('preset', PRESETS, ids=osp.basename)
def test_presets_report_the_test_split_of_every_run_that_selects(preset):
    """A stage whose config keeps a best checkpoint is tested on its test split: its numbers are
    the test run's (suite/results.py reads the last test before any validation)."""
    for task in Config.fromfile(preset).transfer:
        for path in task['configs'].values():
            if chosen_on(Config.fromfile(osp.join(ROOT, path))) is not None:
                assert task.get('test') or not task.get('train', True), (preset, task['name'])
