"""ImageSubset on a synthetic ImageNet folder, its labels read back by torchvision's ImageFolder:
class-balanced draws, seeds, the list it writes and reads (SimCLR's and MSN's format), its errors,
and that it never reaches into the reported split nor takes a dataset whose split it cannot tell
(CLEVR's, another subset)."""
import os
import os.path as osp
from collections import Counter

import numpy as np
import pytest
import torchvision.datasets as tvd
from mmengine.logging import MMLogger
from mmengine.registry import DATASETS

from synthetic import make_clevr, make_imagenet
from transfer.classification import ClassBalancedSubset, ImageNetDataset
from transfer.clevr import ClevrDataset
from transfer.subsets import ImageSubset, write_subset_file

PER_CLASS = 20  # training images of each of the 3 classes


@pytest.fixture(scope='module')
def root(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp('subsets_imagenet'))
    make_imagenet(folder, num_train=3 * PER_CLASS, num_val=9, seed=0)
    return folder


@pytest.fixture(scope='module')
def reference(root) -> dict:
    """file name -> label, by torchvision's reader of the training folder."""
    return {osp.basename(p): y for p, y in tvd.ImageFolder(osp.join(root, 'train')).samples}


@pytest.fixture(scope='module')
def train(root):
    """The training split, read once: a subset leaves its dataset as it is."""
    return ImageNetDataset(root, 'train')


@pytest.fixture
def no_run():
    """A current logger without a log file: outside a runner."""
    return MMLogger.get_instance(f'no_run_{id(object())}')


@pytest.fixture
def run_dir(tmp_path):
    """A current logger whose log file lies in a run folder, as a Runner's does."""
    folder = tmp_path / 'work' / '20260101_000000'
    folder.mkdir(parents=True)
    MMLogger.get_instance(f'run_{tmp_path.name}', log_file=str(folder / '20260101_000000.log'))
    return folder


def _names(subset) -> list:
    return [osp.basename(subset.get_data_info(i)['img_path']) for i in range(len(subset))]


@pytest.mark.parametrize('k', [1, 2, 5])
def test_images_per_class_draws_exactly_k_of_each_class(train, reference, no_run, k):
    subset = ImageSubset(train, images_per_class=k, seed=0)
    names = _names(subset)
    assert len(set(names)) == len(names) == 3 * k
    assert Counter(reference[n] for n in names) == {0: k, 1: k, 2: k}
    assert subset.indices == sorted(subset.indices)  # in the dataset's order
    assert subset.subset_file is None  # outside a runner nothing is written


def test_fraction_keeps_the_rounded_share_of_each_class_as_class_balanced_subset(
        train, reference, no_run):
    subset = ImageSubset(train, fraction=0.13, seed=4)
    keep = max(1, round(0.13 * PER_CLASS))
    assert Counter(reference[n] for n in _names(subset)) == {0: keep, 1: keep, 2: keep}
    # the rule of the kNN bank's subset: the same seed draws the same images
    assert subset.indices == ClassBalancedSubset(train, 0.13, seed=4).indices


def test_the_same_seed_draws_the_same_images_and_another_seed_others(root, no_run):
    def draw(seed):
        return _names(ImageSubset(dict(type='ImageNetDataset', data_root=root, split='train'),
                                  images_per_class=5, seed=seed))
    assert draw(0) == draw(0)
    assert draw(0) != draw(1)


def test_a_draw_is_written_in_the_run_folder_and_reads_back_as_the_same_images(train, run_dir):
    drawn = ImageSubset(train, images_per_class=2, seed=3)
    path = run_dir / 'subset_2imgs_class_seed3.txt'
    assert drawn.subset_file == str(path)
    assert path.read_text().splitlines() == _names(drawn)
    assert sorted(os.listdir(run_dir)) == ['20260101_000000.log', path.name]  # no temporary left
    assert f"subset_file='{path}'" in (run_dir / '20260101_000000.log').read_text()
    again = ImageSubset(train, subset_file=str(path))
    assert again.indices == drawn.indices and again.subset_file == str(path)


def test_a_simclr_format_list_selects_exactly_its_images(train, root, reference, tmp_path, no_run):
    rng = np.random.default_rng(0)
    chosen = list(rng.choice(sorted(reference), 7, replace=False))
    path = tmp_path / '1percent.txt'
    path.write_text('\n'.join(chosen) + '\n\n')  # a trailing blank line is no name
    subset = ImageSubset(train, subset_file=str(path))
    assert sorted(_names(subset)) == sorted(chosen)
    assert [subset.get_data_info(i)['gt_label'] for i in range(len(subset))] == \
        [reference[n] for n in _names(subset)]
    item = subset[0]
    assert item['gt_label'] == reference[_names(subset)[0]]
    assert list(subset.metainfo['classes']) == sorted(os.listdir(osp.join(root, 'train')))
    assert subset.num_classes == 3 and len(subset) == 7


def test_names_that_match_no_training_image_are_an_error_naming_the_file(train, reference,
                                                                         tmp_path, no_run):
    path = tmp_path / 'bad.txt'
    known = sorted(reference)[:3]
    unknown = ['n01440764_10026.JPEG', 'missing_1.JPEG', 'val_000001.JPEG']
    path.write_text('\n'.join(known + unknown) + '\n')
    with pytest.raises(ValueError) as err:
        ImageSubset(train, subset_file=str(path))
    message = str(err.value)
    assert str(path) in message and '3 of its 6 names match no image' in message
    assert all(name in message for name in unknown)


def test_a_name_listed_twice_is_an_error(train, reference, tmp_path, no_run):
    path = tmp_path / 'twice.txt'
    name = sorted(reference)[0]
    path.write_text(f'{name}\n{sorted(reference)[1]}\n{name}\n')
    with pytest.raises(ValueError, match=f'{path}.*more than once.*{name}'):
        ImageSubset(train, subset_file=str(path))


def test_a_missing_list_is_an_error_never_a_draw(train, tmp_path, no_run):
    missing = tmp_path / 'imagenet_subsets1' / '1percent.txt'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        ImageSubset(train, subset_file=str(missing))


@pytest.mark.parametrize('kwargs', [dict(), dict(fraction=0.1, images_per_class=1),
                                    dict(fraction=1.0), dict(images_per_class=0),
                                    dict(images_per_class=PER_CLASS + 1)])
def test_unusable_arguments_are_refused(train, no_run, kwargs):
    with pytest.raises(ValueError):
        ImageSubset(train, **kwargs)


def test_the_subset_never_overlaps_the_reported_split(train, root, no_run):
    val = {p for p, _ in tvd.ImageFolder(osp.join(root, 'val')).samples}
    for seed in range(5):
        subset = ImageSubset(train, images_per_class=5, seed=seed)
        paths = [subset.get_data_info(i)['img_path'] for i in range(len(subset))]
        assert all(osp.relpath(p, root).startswith('train' + os.sep) for p in paths)
        assert not set(paths) & val
    # a part of the reported split itself is refused
    with pytest.raises(ValueError, match="'val' split"):
        ImageSubset(ImageNetDataset(root, 'val'), images_per_class=1)


def test_datasets_that_do_not_name_their_training_split_are_refused(train, tmp_path, no_run):
    """Only a ClassificationDataset names its training split (first in its SPLITS): CLEVR's
    splits, training ones included, and a subset of the training split are refused, not trusted."""
    make_clevr(str(tmp_path), num_train=10, num_val=2)
    for split in ('train_full', 'test'):
        clevr = ClevrDataset(str(tmp_path), 'count', split, img_size=32)
        with pytest.raises(TypeError, match=r'training split of a ClassificationDataset.*'
                                            rf"ClevrDataset\(split='{split}'\) is not one"):
            ImageSubset(clevr, images_per_class=1)
    with pytest.raises(TypeError, match='ClassBalancedSubset of ImageNetDataset'):
        ImageSubset(ClassBalancedSubset(train, 0.5), images_per_class=1)


def test_a_list_is_replaced_whole_or_left_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / 'subset.txt'
    write_subset_file(str(path), ['a.JPEG', 'b.JPEG'])
    write_subset_file(str(path), ['c.JPEG'])
    assert path.read_text() == 'c.JPEG\n'

    def killed(src, dst):  # the process dies between writing the new list and renaming it
        raise KeyboardInterrupt
    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        write_subset_file(str(path), ['d.JPEG'])
    assert path.read_text() == 'c.JPEG\n' and os.listdir(tmp_path) == ['subset.txt']


def test_it_is_registered_for_configs(root, no_run):
    subset = DATASETS.build(dict(type='ImageSubset', images_per_class=1, seed=0,
                                 dataset=dict(type='ImageNetDataset', data_root=root,
                                              split='train')))
    assert isinstance(subset, ImageSubset) and len(subset) == 3
