"""The classification datasets against torchvision's readers (or an independent parse) of the same
synthetic trees, their errors, the class-balanced subsets and the pipeline transforms against
torchvision's transforms."""
import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import scipy.io
import torch
import torchvision.datasets as tvd
import torchvision.transforms as T
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import DATASETS, DefaultScope
from PIL import Image

from synthetic import GENERATORS, make_cars, make_cub, make_imagenet, make_inat21
from transfer.classification import (CUB200_LAYOUT, IMAGENET_LAYOUT, INAT21_LAYOUT,
                                     STANFORD_CARS_LAYOUT, CUB200Dataset, ClassBalancedSubset,
                                     ImageNetDataset, INat21Dataset, StanfordCarsDataset)
from transfer.classification_transforms import (LoadRGBImage, RandomResizedCrop, ResizeShortEdge,
                                                short_edge_size)

from tests.helpers import ROOT, edit_json


def _samples(dataset) -> list:
    return [(d['img_path'], d['gt_label'])
            for d in (dataset.get_data_info(i) for i in range(len(dataset)))]


@pytest.fixture(scope='module')
def trees(tmp_path_factory) -> dict:
    """One small synthetic tree per dataset."""
    roots = {}
    for name, make, kwargs in (('imagenet', make_imagenet, {}),
                               ('inat21', make_inat21, dict(num_classes=7)),
                               ('cub', make_cub, dict(num_train=62, num_val=20, num_classes=6)),
                               ('cars', make_cars, dict(num_classes=5))):
        roots[name] = str(tmp_path_factory.mktemp(name))
        make(roots[name], seed=0, **kwargs)
    return roots


# --- each dataset against a reference reader ---------------------------------------------------

@pytest.mark.parametrize('split', ['train', 'val'])
def test_imagenet_equals_imagefolder(trees, split):
    ours = ImageNetDataset(trees['imagenet'], split)
    ref = tvd.ImageFolder(osp.join(trees['imagenet'], split))
    assert _samples(ours) == ref.samples
    assert list(ours.metainfo['classes']) == ref.classes and ours.num_classes == len(ref.classes)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_stanford_cars_equals_torchvision(trees, split):
    ours = StanfordCarsDataset(trees['cars'], split)
    ref = tvd.StanfordCars(trees['cars'], split=split)
    assert _samples(ours) == [(path, int(label)) for path, label in ref._samples]
    assert list(ours.metainfo['classes']) == ref.classes
    assert len(ours) > 0 and all(osp.isfile(path) for path, _ in _samples(ours))


@pytest.mark.parametrize('split,version', [('train_mini', '2021_train_mini'),
                                           ('val', '2021_valid')])
def test_inat21_equals_torchvision(trees, split, version):
    root = trees['inat21']
    if not osp.exists(osp.join(root, version)):  # torchvision's folder names for the same images
        os.symlink(split, osp.join(root, version))
    ours = INat21Dataset(root, split)
    ref = tvd.INaturalist(root, version=version, target_type='full')
    with open(osp.join(root, f'{split}.json')) as f:
        categories = json.load(f)['categories']
    label_of_dir = {c['image_dir_name']: c['id'] for c in categories}
    expected = sorted((f'{split}/{ref.all_categories[index]}/{fname}',
                       label_of_dir[ref.all_categories[index]]) for index, fname in ref.index)
    assert sorted((osp.relpath(p, root), y) for p, y in _samples(ours)) == expected
    names = {c['id']: c['name'] for c in categories}
    assert list(ours.metainfo['classes']) == [names[k] for k in range(len(names))]


def test_cub200_equals_an_independent_parse(trees):
    base = osp.join(trees['cub'], 'CUB_200_2011')
    images = np.loadtxt(osp.join(base, 'images.txt'), dtype=str)
    labels = np.loadtxt(osp.join(base, 'image_class_labels.txt'), dtype=int)
    is_train = np.loadtxt(osp.join(base, 'train_test_split.txt'), dtype=int)
    ids = images[:, 0].astype(int)
    assert (ids == labels[:, 0]).all() and (ids == is_train[:, 0]).all()
    assert 0 < is_train[:, 1].sum() < len(is_train)
    assert list(is_train[:, 1]) != sorted(is_train[:, 1], reverse=True), 'train images come first'
    splits = {}
    for split, flag in (('train', 1), ('test', 0)):
        splits[split] = _samples(CUB200Dataset(trees['cub'], split))
        rows = zip(images[:, 1], labels[:, 1], is_train[:, 1])
        assert splits[split] == [(osp.join(base, 'images', path), label - 1)
                                 for path, label, f in rows if f == flag]
    paths = [p for s in splits.values() for p, _ in s]
    assert len(paths) == len(set(paths)) == len(images)
    names = np.loadtxt(osp.join(base, 'classes.txt'), dtype=str)[:, 1]
    assert CUB200Dataset(trees['cub'], 'train').metainfo['classes'] == tuple(names)


# --- class-balanced subsets --------------------------------------------------------------------

@pytest.mark.parametrize('fraction', [0.1, 0.25, 0.5])
def test_class_balanced_subset_partitions_by_class(trees, fraction):
    dataset = CUB200Dataset(trees['cub'], 'train')
    parts = {part: ClassBalancedSubset(dataset, fraction, part=part, seed=3)
             for part in ('subset', 'rest')}
    everything = _samples(dataset)
    kept = {part: _samples(s) for part, s in parts.items()}
    assert sorted(kept['subset'] + kept['rest']) == sorted(everything)
    assert not set(kept['subset']) & set(kept['rest'])
    for _part, samples in kept.items():  # both keep the dataset's order
        assert samples == [s for s in everything if s in set(samples)]
    sizes = np.bincount([y for _, y in everything])
    expected = [max(1, round(fraction * int(n))) for n in sizes]
    assert np.bincount([y for _, y in kept['subset']], minlength=len(sizes)).tolist() == expected
    subset = parts['subset']
    assert subset.num_classes == dataset.num_classes
    assert subset.metainfo['classes'] == dataset.metainfo['classes']
    # a training split names no images: mmengine saves its metainfo in every checkpoint
    assert 'images' not in subset.metainfo and 'images' not in dataset.metainfo
    test = CUB200Dataset(trees['cub'], 'test')
    test_subset = ClassBalancedSubset(test, fraction, part='subset', seed=3)
    # each kept image of an evaluation split named under the data root with its label, in order
    assert test_subset.metainfo['images'] == tuple(f'{osp.relpath(p, trees["cub"])}#{y}'
                                                   for p, y in _samples(test_subset))
    assert subset[0]['img_path'] == subset.get_data_info(0)['img_path'] == kept['subset'][0][0]


def test_class_balanced_subset_is_seeded(trees):
    cfg = dict(type='CUB200Dataset', data_root=trees['cub'], split='train')
    build = lambda seed: _samples(DATASETS.build(  # noqa: E731
        dict(type='ClassBalancedSubset', dataset=cfg, fraction=0.3, seed=seed)))
    assert build(0) == build(0) == _samples(ClassBalancedSubset(DATASETS.build(cfg), 0.3))
    assert build(0) != build(1)
    with pytest.raises(ValueError, match='fraction'):
        ClassBalancedSubset(cfg, 1.0)


# --- errors ------------------------------------------------------------------------------------

def _without(root: str, relative: str) -> str:
    path = osp.join(root, relative)
    (shutil.rmtree if osp.isdir(path) else os.remove)(path)
    return path


@pytest.mark.parametrize('cls,make,split,removed,layout,env', [
    (ImageNetDataset, make_imagenet, 'val', 'val', IMAGENET_LAYOUT, 'IMAGENET_ROOT'),
    (INat21Dataset, make_inat21, 'val', 'val.json', INAT21_LAYOUT, 'INAT_ROOT'),
    (CUB200Dataset, make_cub, 'train', 'CUB_200_2011/train_test_split.txt', CUB200_LAYOUT,
     'CUB_ROOT'),
    (StanfordCarsDataset, make_cars, 'test', 'stanford_cars/cars_test_annos_withlabels.mat',
     STANFORD_CARS_LAYOUT, 'CARS_ROOT'),
])
def test_missing_files_name_path_layout_and_remedies(tmp_path, cls, make, split, removed, layout,
                                                     env):
    make(str(tmp_path), num_train=6, num_val=3)
    path = _without(str(tmp_path), removed)
    assert cls.GENERATOR in GENERATORS
    with pytest.raises(FileNotFoundError, match=re.escape(path)) as info:
        cls(str(tmp_path), split)
    message = str(info.value)
    for part in (layout, env, f'python tools/make_synthetic_data.py {cls.GENERATOR} '):
        assert part in message


def test_unknown_split_lists_the_valid_ones(trees):
    with pytest.raises(KeyError, match=r"'train_mini', 'val'"):
        INat21Dataset(trees['inat21'], 'train')


def test_malformed_annotations_name_file_and_entry(tmp_path):
    make_inat21(str(tmp_path / 'inat'), num_train=6, num_val=3)
    path = str(tmp_path / 'inat' / 'val.json')
    edit_json(path, lambda d: d['annotations'].append(dict(d['annotations'][0], id=99)))
    image_id = json.load(open(path))['annotations'][0]['image_id']
    with pytest.raises(ValueError, match=f'{re.escape(path)}: image {image_id} .* 2 annotations'):
        INat21Dataset(str(tmp_path / 'inat'), 'val')
    edit_json(path, lambda d: [c.update(id=c['id'] + 1) for c in d['categories']])
    with pytest.raises(ValueError, match=f'{re.escape(path)}: category ids are not 0'):
        INat21Dataset(str(tmp_path / 'inat'), 'val')

    make_cub(str(tmp_path / 'cub'), num_train=6, num_val=3)
    labels = tmp_path / 'cub' / 'CUB_200_2011' / 'image_class_labels.txt'
    lines = labels.read_text().splitlines()
    labels.write_text('\n'.join(lines[:2] + ['3:7'] + lines[3:]) + '\n')
    with pytest.raises(ValueError, match=f'{re.escape(str(labels))} line 3'):
        CUB200Dataset(str(tmp_path / 'cub'), 'test')
    labels.write_text('\n'.join(lines[:2] + [lines[2].split()[0] + ' 201'] + lines[3:]) + '\n')
    with pytest.raises(ValueError, match=f'{re.escape(str(labels))}: image 3 has .201.'):
        CUB200Dataset(str(tmp_path / 'cub'), 'test')


# --- transforms --------------------------------------------------------------------------------

def _image(trees, height: int, width: int) -> Image.Image:
    """A synthetic photo resized to (height, width), so crops hold structure, not noise only."""
    path = ImageNetDataset(trees['imagenet'], 'train').get_data_info(0)['img_path']
    return Image.open(path).convert('RGB').resize((width, height), Image.BILINEAR)


def _close(ours: np.ndarray, ref: Image.Image) -> None:
    ref = np.asarray(ref)
    assert ours.shape == ref.shape and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


@pytest.mark.parametrize('size', [(97, 131), (300, 200), (64, 64)])
def test_random_resized_crop_equals_torchvision(trees, size):
    img = _image(trees, *size)
    crop = RandomResizedCrop(224, interpolation='bicubic')
    ref = T.RandomResizedCrop(224, interpolation=T.InterpolationMode.BICUBIC)
    outputs = []
    for seed in range(4):
        torch.manual_seed(seed)
        ours = crop(dict(img=np.array(img)))['img']
        torch.manual_seed(seed)
        _close(ours, ref(img))
        outputs.append(ours)
    assert not all((o == outputs[0]).all() for o in outputs[1:]), 'the seed does not move the crop'


@pytest.mark.parametrize('size', [(97, 131), (131, 97), (300, 200), (256, 256), (255, 511)])
def test_resize_short_edge_and_center_crop_equal_torchvision(trees, size):
    img = _image(trees, *size)
    pipeline = Compose([dict(type='ResizeShortEdge', size=256, interpolation='bicubic'),
                        dict(type='CenterCrop', crop_size=224)])
    ref = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224)])
    _close(pipeline(dict(img=np.array(img)))['img'], ref(img))
    resized = T.Resize(256, interpolation=T.InterpolationMode.BICUBIC)(img)
    assert short_edge_size(*size, 256) == resized.size[::-1]


def test_config_pipeline_runs_end_to_end(trees):
    scope = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'default_runtime.py')).default_scope
    train_pipeline = [dict(type='LoadRGBImage'),
                      dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0)),
                      dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                      dict(type='PackProbeInputs')]
    with DefaultScope.overwrite_default_scope(scope):
        dataset = DATASETS.build(dict(type='StanfordCarsDataset', data_root=trees['cars'],
                                      split='train', pipeline=train_pipeline))
        batch = default_collate([dataset[0], dataset[1]])
    assert batch['inputs'].dtype == torch.uint8 and batch['inputs'].shape == (2, 3, 224, 224)
    assert batch['data_samples'].dtype == torch.int64
    assert batch['data_samples'].tolist() == [dataset.get_data_info(i)['gt_label'] for i in (0, 1)]


def test_load_rgb_image_names_unreadable_file(tmp_path):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'not a jpeg')
    with pytest.raises(OSError, match=re.escape(str(path))):
        LoadRGBImage()(dict(img_path=str(path)))
    Image.new('L', (5, 4)).save(tmp_path / 'grey.png')
    results = LoadRGBImage()(dict(img_path=str(tmp_path / 'grey.png')))
    assert results['img'].shape == (4, 5, 3) and results['ori_shape'] == (4, 5)
    assert ResizeShortEdge(8)(results)['img'].shape == (8, 10, 3)


# --- generators --------------------------------------------------------------------------------

def _contents(path: str):
    """A file's bytes; a .mat file's variables (savemat's header holds the time of writing)."""
    if path.endswith('.mat'):
        mat = scipy.io.loadmat(path, squeeze_me=True)
        return repr({k: v for k, v in mat.items() if not k.startswith('__')})
    with open(path, 'rb') as f:
        return f.read()


@pytest.mark.parametrize('make', [make_inat21, make_cub, make_cars])
def test_generators_are_deterministic(tmp_path, make):
    def tree(seed: int, name: str) -> dict:
        make(str(tmp_path / name), num_train=6, num_val=3, seed=seed)
        return {osp.relpath(osp.join(folder, n), tmp_path / name): _contents(osp.join(folder, n))
                for folder, _, names in os.walk(tmp_path / name) for n in names}
    first = tree(0, 'a')
    assert tree(0, 'b') == first and tree(1, 'c') != first
