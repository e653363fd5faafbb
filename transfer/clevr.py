"""CLEVR_v1.0 read from its standard layout, with the Count and Dist labels of VTAB
(SPEC section 4).

Layout under ``data_root``::

    CLEVR_v1.0/images/train/CLEVR_train_000000.png ...
    CLEVR_v1.0/images/val/CLEVR_val_000000.png ...
    CLEVR_v1.0/scenes/CLEVR_train_scenes.json
    CLEVR_v1.0/scenes/CLEVR_val_scenes.json

Labels come from the scene files: Count = number of objects - 3 (3..10 objects, 8 classes); Dist =
the depth ``pixel_coords[2]`` of the closest object, binned by :data:`DIST_THRESHOLDS` (the label is
the largest i with ``threshold[i] < depth``, 6 classes).

Splits (scenes sorted by image file name): the first 90% of the training scenes are the train pool,
the rest the val pool. ``train800`` / ``val200`` are the first 800 / 200 of each pool (VTAB-1k);
``train800val200`` is both (VTAB's final training set); ``test`` is every validation scene (15,000);
``train_full`` / ``val_full`` are the whole pools.

A probe config names its task once (``task = 'count'``); :class:`ClevrProbeRunner` fills in what
follows from it (:func:`with_task`).
"""
import bisect
import copy
import hashlib
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, RUNNERS
from mmengine.runner import Runner
from PIL import Image

from engine.files import DataLayout, load_json, read_rgb
from engine.records import image_keys

__all__ = ['ClevrDataset', 'ClevrProbeRunner', 'count_label', 'dist_label', 'scenes_in_split',
           'with_task', 'DIST_THRESHOLDS', 'CLEVR_LAYOUT', 'TASKS']

DIST_THRESHOLDS = (0.0, 8.0, 8.5, 9.0, 9.5, 10.0)
MIN_OBJECTS, MAX_OBJECTS = 3, 10
_CLEVR_TREE = """\
  CLEVR_v1.0/images/train/<image files>
  CLEVR_v1.0/images/val/<image files>
  CLEVR_v1.0/scenes/CLEVR_train_scenes.json
  CLEVR_v1.0/scenes/CLEVR_val_scenes.json"""
#: CLEVR's layout, for the errors of missing files
CLEVR_LAYOUT = DataLayout('CLEVR', _CLEVR_TREE, 'CLEVR_ROOT', 'the folder holding CLEVR_v1.0',
                          'clevr')
SPLITS = ('train800', 'val200', 'train800val200', 'test', 'train_full', 'val_full')


def count_label(scene: dict) -> int:
    """Number of objects - 3 (CLEVR scenes hold 3 to 10 objects)."""
    count = len(scene['objects'])
    if not MIN_OBJECTS <= count <= MAX_OBJECTS:
        raise ValueError(f'scene {scene.get("image_filename")!r} has {count} objects; Count '
                         f'expects {MIN_OBJECTS} to {MAX_OBJECTS}')
    return count - MIN_OBJECTS


def dist_label(scene: dict) -> int:
    """Bin of the closest object's depth: the largest i with ``DIST_THRESHOLDS[i] < depth``."""
    if not scene['objects']:
        raise ValueError(f'scene {scene.get("image_filename")!r} has no object to measure')
    depth = min(obj['pixel_coords'][2] for obj in scene['objects'])
    label = bisect.bisect_left(DIST_THRESHOLDS, depth) - 1
    if label < 0:
        raise ValueError(f'scene {scene.get("image_filename")!r}: closest depth {depth} is not '
                         f'above {DIST_THRESHOLDS[0]}')
    return label


#: task -> (label function, number of classes)
TASKS = {'count': (count_label, MAX_OBJECTS - MIN_OBJECTS + 1),
         'dist': (dist_label, len(DIST_THRESHOLDS))}


def scenes_in_split(scenes: Sequence[dict], split: str, num_train: int = 800,
                    num_val: int = 200) -> List[dict]:
    """The scenes of ``split`` (see the module's docstring), sorted by image file name, from the
    scene file the split reads: the validation scenes for ``test``, the training scenes
    otherwise."""
    ordered = sorted(scenes, key=lambda s: s['image_filename'])
    if split == 'test':
        return ordered
    cut = int(round(0.9 * len(ordered)))
    pools = {'train_full': ordered[:cut], 'val_full': ordered[cut:]}
    if split in pools:
        return pools[split]
    wanted = {'train800': [('train_full', num_train)], 'val200': [('val_full', num_val)],
              'train800val200': [('train_full', num_train), ('val_full', num_val)]}
    if split not in wanted:
        raise KeyError(f'unknown CLEVR split {split!r}; choose one of {SPLITS}')
    out = []
    for pool, size in wanted[split]:
        if len(pools[pool]) < size:
            raise ValueError(f'split {split!r} needs {size} scenes from the {pool} pool, which '
                             f'holds {len(pools[pool])} of {len(ordered)} training scenes')
        out += pools[pool][:size]
    return out


@DATASETS.register_module()
class ClevrDataset(torch.utils.data.Dataset):
    """CLEVR images resized (bicubic) to ``img_size`` squares, with the Count or Dist label.

    Items are ``dict(inputs=uint8 (3, S, S) RGB tensor, data_samples=int64 label)``. Images are
    decoded by :func:`engine.files.read_rgb` (16-bit grey PNGs keep their high byte); an unreadable
    image or scene file raises an error that names it.

    Args:
        data_root: the folder holding ``CLEVR_v1.0``.
        task: ``'count'`` or ``'dist'``.
        split: one of ``train800``, ``val200``, ``train800val200``, ``test``, ``train_full``,
            ``val_full``.
        num_train, num_val: the sizes of ``train800`` / ``val200`` (smaller for small datasets).
    """

    def __init__(self, data_root: str, task: str, split: str, img_size: int = 224,
                 num_train: int = 800, num_val: int = 200, root_env: Optional[str] = None) -> None:
        if task not in TASKS:
            raise KeyError(f'unknown CLEVR task {task!r}; choose one of {sorted(TASKS)}')
        if split not in SPLITS:
            raise KeyError(f'unknown CLEVR split {split!r}; choose one of {SPLITS}')
        base = osp.join(data_root, 'CLEVR_v1.0')
        part = 'val' if split == 'test' else 'train'  # each split reads one scene file
        path = osp.join(base, 'scenes', f'CLEVR_{part}_scenes.json')
        folder = osp.join(base, 'images', part)
        for needed, what in ((path, 'scene file'), (folder, 'image folder')):
            if not osp.exists(needed):  # root_env: the variable a synthetic config reads instead
                raise CLEVR_LAYOUT.missing(what, needed, data_root, root_env)
        doc = load_json(path)
        if 'scenes' not in doc:
            raise KeyError(f'{path} has no "scenes" list (keys: {sorted(doc)})')
        chosen = scenes_in_split(doc['scenes'], split, num_train, num_val)
        label_of, self.num_classes = TASKS[task]
        self.split, self.task, self.img_size = split, task, img_size
        self.files = [osp.join(folder, s['image_filename']) for s in chosen]
        self.labels = [label_of(s) for s in chosen]
        # images: each scene's image_filename and label, the identity ProbeAccuracy records
        self.metainfo = dict(task=task, split=split, num_classes=self.num_classes,
                             images=tuple(image_keys(self.files, self.labels, None)))

    def __len__(self) -> int:
        return len(self.files)

    def feature_key(self) -> str:
        """What the items' images are, for :class:`~transfer.feature_store.FeatureStore`: a hash
        of ``img_size`` and of the image files in order (each one's real path, size and
        modification time, so a rewritten file misses). Not the task: the Count and Dist probes
        of a split share their features."""
        digest = hashlib.sha256(f'{type(self).__name__} {self.img_size}\n'.encode())
        for path in self.files:
            stat = os.stat(path)
            digest.update(f'{osp.realpath(path)} {stat.st_size} {stat.st_mtime_ns}\n'.encode())
        return digest.hexdigest()

    def __getitem__(self, index: int) -> dict:
        img = read_rgb(self.files[index]).resize((self.img_size, self.img_size), Image.BICUBIC)
        pixels = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        return dict(inputs=pixels, data_samples=torch.tensor(self.labels[index]))


def with_task(cfg: Config) -> Config:
    """A copy of a CLEVR probe config with what its ``task`` decides filled in: the task of the
    three datasets, the probe's number of classes, the evaluators' prefix ``clevr_<task>`` (so the
    logged keys are ``clevr_count/top1_avg``, ...) and the leaderboard's ``report`` (its task and
    one metric per readout the probe reads; the protocol is the config's)."""
    task = cfg.get('task')
    if task not in TASKS:
        raise KeyError(f'a CLEVR probe config sets task to one of {sorted(TASKS)}, not {task!r}')
    cfg = copy.deepcopy(cfg)
    prefix = f'clevr_{task}'
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.task = task
    cfg.model.num_classes = TASKS[task][1]
    cfg.val_evaluator.prefix = cfg.test_evaluator.prefix = prefix
    cfg.report.update(task=f'CLEVR {task.title()}',
                      metrics={f'{prefix}/top1_{r}': (f'top-1 {r}', 1) for r in cfg.model.readouts})
    return cfg


@RUNNERS.register_module()
class ClevrProbeRunner(Runner):
    """mmengine's Runner on :func:`with_task`'s completion of the config (``runner_type`` of the
    CLEVR probe configs): the run is built from it and saves it, so ``<run>/vis_data/config.py``
    holds every value the task decided."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        return super().from_cfg(with_task(cfg))
