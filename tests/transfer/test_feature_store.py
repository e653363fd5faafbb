"""The feature store heals: an unreadable entry is warned about by path and encoded again (the bad
file replaced), and a save that fails (a full disk) is warned about and the run goes on."""
import errno
import logging
import os

import pytest
import torch
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

import backbones  # noqa: F401  (registers JEPAViT)
from transfer.feature_cache import FeatureCache
from transfer.feature_store import FeatureStore
from transfer.probe import LinearProbe


class Scenes(torch.utils.data.Dataset):
    """Six random 32x32 images, with the ``feature_key`` and ``labels`` a store needs."""

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (6, 3, 32, 32), generator=generator,
                                    dtype=torch.uint8)
        self.labels = [0, 1, 2, 0, 1, 2]

    def feature_key(self) -> str:
        return 'six random scenes'

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return dict(inputs=self.images[i], data_samples=torch.tensor(self.labels[i]))


class Warnings(logging.Handler):
    """The warnings a logger emits."""

    def __init__(self, logger: logging.Logger):
        super().__init__(logging.WARNING)
        self.messages = []
        logger.addHandler(self)

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture()
def setup(tmp_path):
    torch.manual_seed(0)
    probe = LinearProbe(dict(type='JEPAViT', embed_dim=16, depth=4, num_heads=2, img_size=32,
                             patch_size=16), num_classes=3, readouts=('avg', 'concat4')).eval()
    logger = MMLogger.get_instance(f'test_feature_store_{tmp_path.name}')
    store = FeatureStore(str(tmp_path / 'store'), {})
    return probe, store, logger, Warnings(logger)


def _fill(probe, store, logger, counter=None):
    cache = FeatureCache(DataLoader(Scenes(), batch_size=4), 'float32', store)
    if counter is not None:
        extract = probe.extract

        def counting(images):
            counter.append(len(images))
            return extract(images)
        probe.extract = counting
    cache.fill(probe, logger)
    if counter is not None:
        del probe.extract
    return cache


def _truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def _not_a_zip(path):
    with open(path, 'wb') as f:
        f.write(b'not a torch file at all')


def _wrong_readouts(path):
    torch.save({'avg': torch.zeros(6, 16)}, path)  # one of the two readouts


def _wrong_size(path):
    torch.save({'avg': torch.zeros(2, 16), 'concat4': torch.zeros(2, 64)}, path)  # two images


def _not_a_dict(path):
    torch.save([torch.zeros(6, 16)], path)


@pytest.mark.parametrize('damage', [_truncate, _not_a_zip, _wrong_readouts, _wrong_size,
                                    _not_a_dict])
def test_an_unreadable_entry_is_warned_about_and_encoded_again(setup, damage):
    probe, store, logger, warnings = setup
    saved = _fill(probe, store, logger)
    (name,) = os.listdir(store.folder)
    path = os.path.join(store.folder, name)
    damage(path)
    encoded = []
    healed = _fill(probe, store, logger, encoded)
    assert sum(encoded) == 6  # encoded again
    assert any(path in m and 'encod' in m for m in warnings.messages), warnings.messages
    for k, v in saved.features.items():
        assert torch.equal(healed.features[k], v)
    # the bad file was replaced by the new save: the next run loads it
    assert os.listdir(store.folder) == [name]
    again = []
    loaded = _fill(probe, store, logger, again)
    assert again == [] and all(torch.equal(loaded.features[k], v)
                               for k, v in saved.features.items())


def test_a_failed_save_is_warned_about_and_the_run_goes_on(setup, monkeypatch):
    probe, store, logger, warnings = setup

    def disk_full(obj, f, *args, **kwargs):
        with open(f, 'wb') as out:
            out.write(b'partial')  # as a write cut short leaves it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(torch, 'save', disk_full)
    cache = _fill(probe, store, logger)
    assert set(cache.features) == {'avg', 'concat4'} and len(cache.labels) == 6
    key = store.key(probe, Scenes(), torch.float32)
    assert any(store.path(key) in m and 'No space left' in m for m in warnings.messages), \
        warnings.messages
    assert os.listdir(store.folder) == []  # neither the entry nor the temporary file


def test_a_save_into_a_folder_that_cannot_be_made_is_warned_about(setup, tmp_path):
    probe, _, logger, warnings = setup
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    store = FeatureStore(str(blocker / 'store'), {})  # a folder under a file cannot be made
    cache = _fill(probe, store, logger)
    assert len(cache.labels) == 6
    assert any(str(blocker / 'store') in m for m in warnings.messages), warnings.messages
