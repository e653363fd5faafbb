"""tools/benchmark_data.py: both pipelines are timed, the suite's is the training dataloader's."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, FUNCTIONS, MODELS
from PIL import Image

from tests.helpers import ROOT
from pretrain import EncodedCrop
from benchmarks.data import (CONFIG, SIDES, benchmark_data, device_decode_images_per_s,
                                  link_jpegs, make_photos, pretrain_loader_cfg, suite_loader)


@pytest.fixture(scope='module')
def photos(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('photos'))
    make_photos(root, 6, seed=0)
    return root


def test_the_photos_have_imagenet_sizes(photos):
    for path in glob.glob(osp.join(photos, 'train', '*', '*.JPEG')):
        with Image.open(path) as img:
            assert img.format == 'JPEG' and img.mode == 'RGB'
            assert all(SIDES[0] <= side <= SIDES[1] for side in img.size), (path, img.size)


def test_both_rates_and_the_last_line(photos, capsys):
    rates = benchmark_data(photos, num_images=4, seed=0)
    assert rates['suite'] > 0 and rates['torchvision'] > 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(': ' in line for line in lines)
    assert lines[-1] == f'speedup_vs_torchvision: {rates["suite"] / rates["torchvision"]:.2f}'


def test_the_timed_loader_gives_the_training_batches(photos):
    """The timed batch is what the config's dataset and collate make of the same keys."""
    loader = suite_loader(photos, batch_size=3, seed=0)
    keys = next(iter(loader.batch_sampler))
    cfg = pretrain_loader_cfg()
    dataset = DATASETS.build(dict(cfg['dataset'], data_root=photos))
    collate = cfg['collate_fn']
    expected = FUNCTIONS.get(collate.pop('type'))([dataset[k] for k in keys], **collate)
    batch = next(iter(loader))
    assert batch['inputs'].shape == (3, 3, 224, 224) and batch['inputs'].dtype == torch.uint8
    assert torch.equal(batch['inputs'], expected['inputs'])
    assert batch['data_samples'].keys() == expected['data_samples'].keys()
    for name, value in expected['data_samples'].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(batch['data_samples'][name], value), name
        else:
            assert batch['data_samples'][name] == value, name


def test_device_decoding_is_timed_on_the_batches_the_cpu_path_makes(photos):
    left = suite_loader(photos, batch_size=3, seed=0, decode='device')
    batch = next(iter(left))
    assert isinstance(batch['inputs'], list) and all(
        isinstance(item, EncodedCrop) for item in batch['inputs'])
    preprocessor = MODELS.build(Config.fromfile(CONFIG).model.data_preprocessor)
    expected = preprocessor(next(iter(suite_loader(photos, batch_size=3, seed=0))), True)
    assert torch.equal(preprocessor(batch, True)['inputs'], expected['inputs'])
    assert device_decode_images_per_s(left, 1, torch.device('cpu')) > 0


def test_images_without_jpegs_is_an_error_naming_the_folder(tmp_path):
    empty = tmp_path / 'no_jpegs'
    empty.mkdir()
    (empty / 'notes.txt').write_text('not a photo')
    with pytest.raises(FileNotFoundError, match='no_jpegs'):
        link_jpegs(str(empty), str(tmp_path / 'root'))


@pytest.mark.slow  # the tool in a subprocess
def test_the_tool_names_a_folder_without_jpegs(tmp_path):
    empty = tmp_path / 'no_jpegs'
    empty.mkdir()
    run = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmark_data.py'),
                          '--images', str(empty)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and f'no JPEG files (.jpg, .jpeg) under {empty}' in run.stderr
