"""An on-disk store of a frozen encoder's probe features, shared by probe runs on the same images.

The CLEVR Count and Dist probes encode the same images with the same encoder: with a store
(the config key ``feature_store``, a folder), the second run loads what the first one saved instead
of encoding again. An entry's key hashes everything its features depend on: the images (the
dataset's ``feature_key()``), the encoder's weights when it encodes (every tensor of its state
dict), its architecture (``model.backbone`` less ``init_cfg``, which only decides the weights), the
data preprocessor's config, the readouts, the features' dtype, the device kind (a GPU encodes in
bf16) and torch's and timm's versions. Labels are never stored: a run takes them from its own
dataset, so a Count run's features serve the Dist run.

A dataset opts in with ``feature_key() -> str`` (what its images are, not its labels) and
``labels`` (the labels of its items, in order); the features of any other dataset are encoded as
without a store.

The store only saves work, so it never stops a run: an entry that cannot be read (cut short, not a
torch file, other contents) is warned about by path, encoded again and saved in its place, and a
save that fails (a full disk) is warned about by path while the run goes on.
"""
import hashlib
import json
import os
import os.path as osp
import pickle
import tempfile
from typing import Dict, Optional, Sequence

import timm
import torch
import torch.nn as nn
from mmengine import dist
from mmengine.logging import MMLogger

__all__ = ['FeatureStore', 'weights_digest']

#: bumped when the features of a key change without the key seeing it (probe_features's code)
STORE_FORMAT = 2  # 2: positions resampled, not recomputed, at other grids


def weights_digest(module: nn.Module) -> str:
    """sha256 of every tensor of ``module``'s state dict: its name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f'{name} {flat.dtype} {tuple(tensor.shape)}\n'.encode())
        digest.update(flat.view(torch.uint8).numpy())
    return digest.hexdigest()


class FeatureStore:
    """The features of probe datasets in ``folder``, one ``<key>.pt`` file per (encoder, images)
    pair; ``model_cfg`` is the probe's ``model`` config (its encoder's architecture)."""

    def __init__(self, folder: str, model_cfg: dict) -> None:
        self.folder = folder
        backbone = dict(model_cfg.get('backbone', {}))
        backbone.pop('init_cfg', None)  # the weights it loads are hashed themselves
        self.architecture = dict(backbone=backbone,
                                 preprocessor=model_cfg.get('data_preprocessor'))

    def key(self, probe: nn.Module, dataset, dtype: torch.dtype) -> Optional[str]:
        """The key of ``dataset``'s features by the probe's ``extract`` as they stand, kept in
        ``dtype``; None for a dataset without ``feature_key``."""
        if not callable(getattr(dataset, 'feature_key', None)):
            return None
        parts = dict(self.architecture, format=STORE_FORMAT, images=dataset.feature_key(),
                     weights=weights_digest(probe.backbone), readouts=list(probe.readouts),
                     dtype=str(dtype), device=next(probe.backbone.parameters()).device.type,
                     torch=torch.__version__, timm=timm.__version__)
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def path(self, key: str) -> str:
        """The file of ``key``'s features."""
        return osp.join(self.folder, f'{key}.pt')

    def load(self, key: str, size: int, logger: MMLogger,
             readouts: Optional[Sequence[str]] = None) -> Optional[Dict[str, torch.Tensor]]:
        """The stored features (per readout, ``readouts`` when given) of ``size`` images under
        ``key``; None when there are none, or when the file cannot be read or holds anything else
        (a run killed in a copy, a full disk, another tool's file): that is warned about, naming
        the file, and the features are then encoded again and saved over it."""
        path = self.path(key)
        if not osp.exists(path):
            return None
        try:
            features = torch.load(path, map_location='cpu', weights_only=True)
            problem = _contents_problem(features, size, readouts)
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as err:
            # what a cut or foreign file gives; out of memory or an I/O error is not the file's
            problem = f'{type(err).__name__}: {str(err).strip().splitlines()[0][:200]}'
        if problem:
            logger.warning(f'feature store: {path} is unreadable ({problem}); encoding the '
                           'features again, to be saved in its place')
            return None
        logger.info(f'feature store: loaded the features of {size} images from {path}')
        return features

    def save(self, key: str, features: Dict[str, torch.Tensor], logger: MMLogger) -> None:
        """Save ``key``'s features (rank 0 only: every rank holds them all), written whole or not
        at all, so that a concurrent or killed run never leaves a partial file under the key. A
        save that fails (a full disk, a folder that cannot be written) is warned about, naming the
        file, and the run goes on with the features it holds: the store only saves work."""
        if dist.get_rank() != 0:
            return
        path, tmp = self.path(key), None
        try:
            os.makedirs(self.folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix='.tmp')
            os.close(fd)
            torch.save(features, tmp)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as err:  # torch's zip writer reports a full disk so
            _remove_quietly(tmp)
            logger.warning(f'feature store: could not save {path} ({type(err).__name__}: {err}); '
                           'going on without it (a later run encodes these features again)')
            return
        except BaseException:
            _remove_quietly(tmp)
            raise
        logger.info(f'feature store: saved the features of {len(next(iter(features.values())))} '
                    f'images to {path}')


def _contents_problem(features: object, size: int,
                      readouts: Optional[Sequence[str]]) -> Optional[str]:
    """What is wrong with what a store file held, as features of ``size`` images per readout;
    None if nothing."""
    if not isinstance(features, dict) or not features or \
            not all(isinstance(v, torch.Tensor) for v in features.values()):
        return f'it holds a {type(features).__name__}, not a tensor per readout'
    if readouts is not None and set(features) != set(readouts):
        return f'it holds the readouts {sorted(features)}, not {sorted(readouts)}'
    sizes = {k: len(v) for k, v in features.items()}
    if any(n != size for n in sizes.values()):
        return f'it holds features of {sizes} images, not {size}'
    return None


def _remove_quietly(path: Optional[str]) -> None:
    """Remove ``path`` if there is one (a temporary file a failed save leaves)."""
    if path is not None and osp.exists(path):
        try:
            os.remove(path)
        except OSError:
            pass  # the warning about the failed save is what matters
