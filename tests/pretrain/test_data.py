"""Pretraining data: folder layouts, unreadable images, seeded crops and the step batch sampler."""
import os

import pytest
import torch
from mmengine.dataset import DefaultSampler

from pretrain import ImageFolderDataset, StepBatchSampler
from synthetic import make_imagenet, make_images


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('imagenet'))
    make_imagenet(root, num_train=9, num_val=3, seed=0)
    return root


def test_class_folders_and_flat_folders(imagenet, tmp_path):
    ds = ImageFolderDataset(imagenet, crop_size=64)
    assert len(ds) == 9 and ds.classes == ['n00000000', 'n00000001', 'n00000002']
    sample = ds[(4, 7)]
    assert sample['img'].shape == (3, 64, 64) and sample['img'].dtype == torch.uint8
    assert sample['step'] == 7 and sample['label'] == 1 and sample['skipped'] == []
    make_images(str(tmp_path), num_train=5, seed=0)
    flat = ImageFolderDataset(str(tmp_path), crop_size=32)
    assert len(flat) == 5 and flat[0]['label'] == -1


def test_crops_are_fixed_by_seed_step_and_index(imagenet):
    ds = ImageFolderDataset(imagenet, crop_size=64)
    assert torch.equal(ds[(2, 5)]['img'], ds[(2, 5)]['img'])
    assert not torch.equal(ds[(2, 5)]['img'], ds[(2, 6)]['img'])
    other_seed = ImageFolderDataset(imagenet, crop_size=64, seed=1)
    assert not torch.equal(ds[(2, 5)]['img'], other_seed[(2, 5)]['img'])


def test_unreadable_images_are_skipped_with_a_warning_that_names_them(imagenet, tmp_path):
    root = tmp_path / 'broken'
    (root / 'train' / 'a').mkdir(parents=True)
    bad = root / 'train' / 'a' / '0.jpg'
    bad.write_bytes(b'not an image')
    good = os.path.join(imagenet, 'train', 'n00000000')
    for name in sorted(os.listdir(good))[:2]:
        os.link(os.path.join(good, name), root / 'train' / 'a' / f'1{name}')
    ds = ImageFolderDataset(str(root), crop_size=32)
    with pytest.warns(UserWarning, match=f'skipping unreadable image {bad}'):
        sample = ds[0]
    assert sample['skipped'] == [str(bad)] and sample['img'].shape == (3, 32, 32)


def test_missing_or_empty_root_says_what_layout_is_expected(tmp_path):
    expected = r'nowhere/train not found; expected .*<class>/<image>'
    with pytest.raises(FileNotFoundError, match=expected):
        ImageFolderDataset(str(tmp_path / 'nowhere'))
    (tmp_path / 'empty' / 'train').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='no images'):
        ImageFolderDataset(str(tmp_path / 'empty'))


def test_step_batch_sampler_runs_epoch_after_epoch_and_starts_anywhere(imagenet):
    ds = ImageFolderDataset(imagenet, crop_size=32)
    sampler = StepBatchSampler(DefaultSampler(ds, shuffle=True, seed=0), batch_size=2)
    assert len(sampler) == 4  # 9 images: the incomplete batch is dropped
    it = iter(sampler)
    batches = [next(it) for _ in range(10)]
    assert [b[0][1] for b in batches] == list(range(10))
    assert all(len(b) == 2 and len({step for _, step in b}) == 1 for b in batches)
    first, second = ({i for b in batches[e * 4:(e + 1) * 4] for i, _ in b} for e in (0, 1))
    assert len(first) == 8 and len(second) == 8
    assert [i for b in batches[:4] for i, _ in b] != [i for b in batches[4:8] for i, _ in b]
    sampler.set_start_step(6)
    assert next(iter(sampler)) == batches[6]
