"""The classification datasets agree with themselves and with the config: one class list for both
iNat 2021 splits, an image listed twice refused (other label) or kept once (same label), and a
dataset with more classes than the probe's or kNN's ``model.num_classes`` refused when its loop is
built, naming the dataset and the key."""
import json
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import scipy.io
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS
from mmengine.runner import Runner
from torch.utils.data import DataLoader

import backbones  # noqa: F401  (registers JEPAViT)
import transfer  # noqa: F401  (registers the loops, models and metrics)
from synthetic import make_cars, make_cub, make_imagenet, make_inat21
from transfer.classification import (CUB200Dataset, ImageNetDataset, INat21Dataset,
                                     StanfordCarsDataset)
from transfer.knn import KNNBank, KNNClassifier
from transfer.probe import LinearProbe

from tests.helpers import ROOT, edit_json


@pytest.fixture()
def inat(tmp_path) -> str:
    root = str(tmp_path / 'inat')
    make_inat21(root, num_train=8, num_val=4, num_classes=4)
    return root


# --- iNat 2021: one class list for both splits ---------------------------------------------------

def _rename_category(doc: dict, index: int, name: str) -> None:
    doc['categories'][index]['name'] = name


@pytest.mark.parametrize('split', ['val', 'train_mini'])
def test_inat21_splits_with_different_categories_are_refused(inat, split):
    first = INat21Dataset(inat, split)  # as generated, both files list the same categories
    name = first.metainfo['classes'][2]
    edit_json(osp.join(inat, 'val.json'), lambda d: _rename_category(d, 2, 'Renamed species'))
    with pytest.raises(ValueError) as info:
        INat21Dataset(inat, split)
    message = str(info.value)
    for part in (osp.join(inat, 'val.json'), osp.join(inat, 'train_mini.json'), 'category 2',
                 repr(name), repr('Renamed species')):
        assert part in message, (part, message)


def test_inat21_category_count_differs_between_splits(inat):
    edit_json(osp.join(inat, 'train_mini.json'), lambda d: d['categories'].append(
        dict(d['categories'][-1], id=len(d['categories']), name='Extra species')))
    with pytest.raises(ValueError, match=r'4 categories .* 5 categories|5 categories .* 4 categ'):
        INat21Dataset(inat, 'val')


def test_inat21_val_is_checked_against_train_json_without_train_mini(inat):
    shutil.copy(osp.join(inat, 'train_mini.json'), osp.join(inat, 'train.json'))
    edit_json(osp.join(inat, 'train.json'), lambda d: _rename_category(d, 0, 'Other'))
    shutil.move(osp.join(inat, 'train_mini.json'), osp.join(inat, 'train_mini.json.bak'))
    with pytest.raises(ValueError, match=re.escape(osp.join(inat, 'train.json'))):
        INat21Dataset(inat, 'val')


# --- the same image listed twice -----------------------------------------------------------------

def _list_twice_inat(doc: dict, label_shift: int) -> str:
    """A second images/annotations entry for the first image, its label shifted."""
    image, ann = doc['images'][0], doc['annotations'][0]
    new_id = max(i['id'] for i in doc['images']) + 100
    doc['images'].append(dict(image, id=new_id))
    label = (ann['category_id'] + label_shift) % len(doc['categories'])
    doc['annotations'].append(dict(ann, id=new_id, image_id=new_id, category_id=label))
    return image['file_name']


def test_inat21_image_listed_twice_with_two_labels_is_refused(inat):
    path = osp.join(inat, 'val.json')
    names = []
    edit_json(path, lambda d: names.append(_list_twice_inat(d, 1)))
    with pytest.raises(ValueError, match=re.escape(path)) as info:
        INat21Dataset(inat, 'val')
    assert names[0] in str(info.value) and 'images[0]' in str(info.value)
    assert 'images[4]' in str(info.value)


def test_inat21_image_listed_twice_with_one_label_is_kept_once(inat):
    path = osp.join(inat, 'val.json')
    names = []
    edit_json(path, lambda d: names.append(_list_twice_inat(d, 0)))
    with pytest.warns(UserWarning, match=re.escape(path) + r'.*1 image'):
        dataset = INat21Dataset(inat, 'val')
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    assert len(dataset) == 4 and paths.count(osp.join(inat, names[0])) == 1


def _cub_list_twice(root: str, label_shift: int) -> str:
    """A new image id for the first line of images.txt, in the same split, label shifted."""
    base = osp.join(root, 'CUB_200_2011')
    tables = {}
    for name in ('images', 'image_class_labels', 'train_test_split'):
        with open(osp.join(base, f'{name}.txt')) as f:
            tables[name] = [line.split() for line in f if line.strip()]
    new_id = str(len(tables['images']) + 1)
    with open(osp.join(base, 'classes.txt')) as f:
        num_classes = sum(1 for _ in f)
    label = (int(tables['image_class_labels'][0][1]) - 1 + label_shift) % num_classes + 1
    rows = dict(images=tables['images'][0][1], image_class_labels=str(label),
                train_test_split=tables['train_test_split'][0][1])
    for name, value in rows.items():
        with open(osp.join(base, f'{name}.txt'), 'a') as f:
            f.write(f'{new_id} {value}\n')
    split = 'train' if rows['train_test_split'] == '1' else 'test'
    return split, tables['images'][0][1]


def test_cub_image_listed_twice(tmp_path):
    make_cub(str(tmp_path), num_train=6, num_val=3, num_classes=3)
    split, rel = _cub_list_twice(str(tmp_path), 0)
    images = osp.join(str(tmp_path), 'CUB_200_2011', 'images.txt')
    with pytest.warns(UserWarning, match=re.escape(images) + r'.*1 image'):
        dataset = CUB200Dataset(str(tmp_path), split)
    assert len(dataset) == (6 if split == 'train' else 3)
    _cub_list_twice(str(tmp_path), 1)
    with pytest.raises(ValueError, match=re.escape(images)) as info:
        CUB200Dataset(str(tmp_path), split)
    assert rel in str(info.value) and 'image 1' in str(info.value)


def _cars_list_twice(root: str, label_shift: int) -> str:
    path = osp.join(root, 'stanford_cars', 'devkit', 'cars_train_annos.mat')
    table = scipy.io.loadmat(path)['annotations']
    extra = table[:, :1].copy()
    label = int(extra[0, 0]['class'].squeeze())
    extra[0, 0]['class'] = np.array([[(label - 1 + label_shift) % 3 + 1]], dtype=np.uint16)
    scipy.io.savemat(path, {'annotations': np.concatenate([table, extra], axis=1)})
    return path, str(extra[0, 0]['fname'].squeeze())


def test_stanford_cars_image_listed_twice(tmp_path):
    make_cars(str(tmp_path), num_train=6, num_val=3, num_classes=3)
    path, fname = _cars_list_twice(str(tmp_path), 0)
    with pytest.warns(UserWarning, match=re.escape(path) + r'.*1 image'):
        dataset = StanfordCarsDataset(str(tmp_path), 'train')
    assert len(dataset) == 6
    _cars_list_twice(str(tmp_path), 1)
    with pytest.raises(ValueError, match=re.escape(path)) as info:
        StanfordCarsDataset(str(tmp_path), 'train')
    assert fname in str(info.value) and 'annotation 0' in str(info.value)


# --- labels beyond the config's num_classes ------------------------------------------------------

@pytest.fixture(scope='module')
def imagenet(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('imagenet'))
    make_imagenet(root, num_train=9, num_val=6, seed=0)  # 3 classes
    return root


def test_check_num_classes_names_the_dataset_and_the_key(imagenet):
    from transfer.classification import check_num_classes
    dataset = ImageNetDataset(imagenet, 'val')
    check_num_classes(dataset, 3, 'test_dataloader.dataset')
    check_num_classes(dataset, 5, 'test_dataloader.dataset')  # more outputs than classes is fine
    with pytest.raises(ValueError) as info:
        check_num_classes(dataset, 2, 'test_dataloader.dataset')
    for part in ('test_dataloader.dataset', 'ImageNetDataset', imagenet, '3 classes',
                 'model.num_classes = 2'):
        assert part in str(info.value), (part, str(info.value))


def _tiny_backbone() -> dict:
    return dict(type='JEPAViT', embed_dim=16, depth=4, num_heads=2, img_size=32, patch_size=16)


def _runner(tmp_path, model, num_classes: int, **loops) -> Runner:
    return Runner(model=model, work_dir=str(tmp_path), default_scope='mmengine',
                  experiment_name=f'num_classes_{tmp_path.name}',
                  cfg=dict(model=dict(num_classes=num_classes)), **loops)


@pytest.mark.parametrize('loop', ['FeatureCacheTestLoop', 'KNNTestLoop'])
def test_test_loops_refuse_more_classes_than_the_model_has(imagenet, tmp_path, loop):
    if loop == 'KNNTestLoop':
        model = KNNClassifier(_tiny_backbone(), num_classes=2, k=2)
        test_cfg = dict(type=loop, bank_dataloader=DataLoader(ImageNetDataset(imagenet, 'train')))
    else:
        model = LinearProbe(_tiny_backbone(), num_classes=2)
        test_cfg = dict(type=loop)
    runner = _runner(tmp_path, model, 2, test_cfg=test_cfg,
                     test_dataloader=DataLoader(ImageNetDataset(imagenet, 'val')),
                     test_evaluator=dict(type='ProbeAccuracy'))
    with pytest.raises(ValueError, match=r'test_dataloader.dataset .*ImageNetDataset.*3 classes'
                                         r'.*model\.num_classes = 2'):
        assert runner.test_loop is None  # building the loop raises


def test_the_cached_train_loop_refuses_more_classes_than_the_model_has(imagenet, tmp_path):
    runner = _runner(tmp_path, LinearProbe(_tiny_backbone(), num_classes=2), 2,
                     train_dataloader=DataLoader(ImageNetDataset(imagenet, 'train')),
                     train_cfg=dict(type='FeatureCacheTrainLoop', max_epochs=1),
                     optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)))
    with pytest.raises(ValueError, match=r'train_dataloader.dataset .*3 classes'
                                         r'.*model\.num_classes = 2'):
        assert runner.train_loop is None  # building the loop raises


def test_a_knn_bank_refuses_labels_beyond_its_classes():
    with pytest.raises(ValueError, match=r'label 3 .*num_classes = 3'):
        KNNBank(torch.randn(4, 8), torch.tensor([0, 1, 2, 3]), num_classes=3)
    with pytest.raises(ValueError, match=r'label -1'):
        KNNBank(torch.randn(2, 8), torch.tensor([0, -1]), num_classes=3)


# --- the synthetic configs' errors name the variable they read -----------------------------------

@pytest.mark.parametrize('config,loader', [
    ('knn/knn_ijepa-vittiny_synthimagenet.py', 'test_dataloader'),
    ('linear/linear_ijepa-vittiny_7e_synthimagenet.py', 'train_dataloader'),
    ('linear/linear_dseq-vittiny_fast_synthimagenet.py', 'train_dataloader'),
])
def test_synthetic_configs_name_the_variable_they_read(tmp_path, monkeypatch, config, loader):
    missing = str(tmp_path / 'nowhere')
    monkeypatch.setenv('SYNTH_IMAGENET_ROOT', missing)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    with pytest.raises(FileNotFoundError, match=re.escape(missing)) as info:
        DATASETS.build(cfg[loader].dataset)
    message = str(info.value)
    assert 'SYNTH_IMAGENET_ROOT environment variable' in message
    assert not re.search(r'(?<!SYNTH_)IMAGENET_ROOT', message), message
    assert f'python tools/make_synthetic_data.py imagenet {missing}' in message


@pytest.mark.parametrize('config,variable,generator', [
    ('maskrcnn/maskrcnn_ijepa-vittiny_2e_synthcoco.py', 'SYNTH_COCO_ROOT', 'coco'),
    ('upernet/upernet_ijepa-vittiny_40iter_synthade.py', 'SYNTH_ADE_ROOT', 'ade20k'),
    ('clevr/linear_ijepa-vittiny_100e_synthclevr-count.py', 'SYNTH_CLEVR_ROOT', 'clevr'),
])
def test_the_dense_and_clevr_smoke_configs_name_the_variable_they_read(tmp_path, monkeypatch,
                                                                       config, variable, generator):
    import importlib

    from mmengine.registry import DefaultScope
    missing = str(tmp_path / 'nowhere')
    monkeypatch.setenv(variable, missing)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    scope = cfg.get('default_scope') or 'mmengine'
    importlib.import_module('transfer')  # registers the suite's datasets
    dataset = cfg.val_dataloader.dataset
    if 'task' in dataset:  # a CLEVR config names its task once; its runner fills it in
        dataset.task = 'count'
    with DefaultScope.overwrite_default_scope(scope), \
            pytest.raises(FileNotFoundError, match=re.escape(missing)) as info:
        importlib.import_module(f'{scope}.registry').DATASETS.build(dataset)
    message = str(info.value)
    assert f'{variable} environment variable' in message
    assert not re.search(rf'(?<!SYNTH_){variable[len("SYNTH_"):]}', message), message
    assert f'python tools/make_synthetic_data.py {generator} {missing}' in message


@pytest.mark.parametrize('run', ['train', 'test'])
def test_the_hook_checks_mmengines_plain_probe_loops(imagenet, tmp_path, run):
    from transfer.classification import NumClassesCheckHook  # noqa: F401  (registers it)
    loader = dict(batch_size=3, sampler=dict(type='DefaultSampler', shuffle=run == 'train'),
                  collate_fn=dict(type='default_collate'),
                  dataset=dict(type='ImageNetDataset', data_root=imagenet, split='train',
                               pipeline=[dict(type='LoadRGBImage'),
                                         dict(type='CenterCrop', crop_size=32),
                                         dict(type='PackProbeInputs')]))
    if run == 'train':
        loops = dict(train_dataloader=loader, train_cfg=dict(type='EpochBasedTrainLoop',
                                                             max_epochs=1),
                     optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)))
    else:
        loops = dict(test_dataloader=loader, test_cfg=dict(type='TestLoop'),
                     test_evaluator=dict(type='ProbeAccuracy'))
    runner = _runner(tmp_path, LinearProbe(_tiny_backbone(), num_classes=2), 2,
                     custom_hooks=[dict(type='NumClassesCheckHook')], **loops)
    with pytest.raises(ValueError, match=rf'{run}_dataloader.dataset .*3 classes'
                                         r'.*model\.num_classes = 2'):
        getattr(runner, run)()


@pytest.mark.parametrize('first', ['categories', 'images'])
def test_inat21_categories_read_alone_are_those_of_the_whole_file(tmp_path, first):
    from transfer.classification import inat21_categories, parse_inat21
    categories = [dict(id=1, name='b "categories": ['), dict(id=0, name='a')]
    images = [dict(id=i, file_name=f'train_mini/"categories": [{i}].jpg') for i in range(3)]
    doc = dict(info=dict(note='"categories": []'), annotations=[
        dict(id=i, image_id=i, category_id=i % 2) for i in range(3)])
    doc = {first: categories if first == 'categories' else images, **doc}
    doc.update(images=images, categories=categories)
    path = tmp_path / f'{first}.json'
    path.write_text(json.dumps(doc))
    assert inat21_categories(str(path)) == parse_inat21(str(path))[1] == ['a', 'b "categories": [']
