"""The NYU-Depth v2 data side: the dataset over its split files, the depth loader and the border
crop, the recipe's pipelines, the per-image depth metric against a hand computation, and its records
and their resamples."""
import os
import pickle

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from tests.helpers import ROOT

import transfer.nyu  # noqa: F401  (registers the classes, as the configs' custom_imports do)
from engine import records
from suite.significance import metric_of
from synthetic import make_nyu
from transfer.nyu import (DepthMetricWithRecords, LoadDepthAnnotationChecked, NYUCrop,
                          NYUDepthDataset)

CONFIG = os.path.join(ROOT, 'configs', '_base_', 'datasets', 'nyu_depth.py')
EIGEN = (slice(45, 471), slice(41, 601))


@pytest.fixture(scope='module')
def synthetic_nyu(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('synthetic_nyu'))
    make_nyu(root, num_train=4, num_val=3, seed=0)
    return root


def _config(root, monkeypatch):
    monkeypatch.setenv('NYU_ROOT', root)
    return Config.fromfile(CONFIG)


def _split_lines(root, split):
    with open(os.path.join(root, split)) as f:
        return [line.split() for line in f.read().splitlines()]


# ---------------------------------------------------------------- the dataset


def test_dataset_reads_split_files_and_depth_in_metres(synthetic_nyu, monkeypatch, mmseg_scope):
    from mmseg.registry import DATASETS
    cfg = _config(synthetic_nyu, monkeypatch)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    lines = _split_lines(synthetic_nyu, 'nyu_test.txt')
    assert len(dataset) == len(lines) == 3
    for i, (rgb, depth, _) in enumerate(lines):
        sample = dataset[i]
        meta = sample['data_samples'].metainfo
        assert os.path.samefile(meta['img_path'], os.path.join(synthetic_nyu, rgb))
        with Image.open(os.path.join(synthetic_nyu, depth)) as im:
            stored = np.asarray(im).astype(np.int64)
        loaded = sample['data_samples'].gt_depth_map.data.numpy()
        assert loaded.shape == (1, 480, 640) and loaded.dtype == np.float32
        np.testing.assert_allclose(loaded[0], stored / 1000.0, rtol=1e-6)
        assert tuple(sample['inputs'].shape) == (3, 480, 640)
    assert dataset.metainfo['data_root'] == synthetic_nyu + '/'

    train = NYUDepthDataset(data_root=synthetic_nyu, split_file='nyu_train.txt')
    train_lines = _split_lines(synthetic_nyu, 'nyu_train.txt')
    assert all(r.startswith('/') and d.startswith('/') for r, d, _ in train_lines)
    infos = [train.get_data_info(i) for i in range(len(train))]
    assert [(info['img_path'], info['depth_map_path']) for info in infos] == \
        [(os.path.join(synthetic_nyu, r[1:]), os.path.join(synthetic_nyu, d[1:]))
         for r, d, _ in train_lines]


def test_missing_split_file_names_the_layout_and_variable(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        NYUDepthDataset(data_root=str(tmp_path / 'nowhere'), split_file='nyu_test.txt')
    message = str(err.value)
    for part in ('NYU-Depth v2 split file not found', f'{tmp_path}/nowhere/nyu_test.txt',
                 'nyu_train.txt', 'sync_depth_', 'uint16 millimetres',
                 'the NYU_ROOT environment variable', 'make_synthetic_data.py nyu'):
        assert part in message
    with pytest.raises(FileNotFoundError, match='SYNTH_NYU_ROOT'):
        NYUDepthDataset(data_root=str(tmp_path), root_env='SYNTH_NYU_ROOT')


@pytest.mark.parametrize('bad', ['kitchen_0028b/rgb_00001.jpg kitchen_0028b/sync_depth_00001.png',
                                 'a.jpg b.png 518.8579 extra', 'a.jpg b.png focal'])
def test_malformed_line_names_file_and_line(synthetic_nyu, tmp_path, bad):
    good = ' '.join(_split_lines(synthetic_nyu, 'nyu_test.txt')[0])
    split = os.path.join(synthetic_nyu, f'bad_{len(bad)}.txt')
    with open(split, 'w') as f:
        f.write(f'{good}\n\n{bad}\n')
    with pytest.raises(ValueError) as err:
        NYUDepthDataset(data_root=synthetic_nyu, split_file=os.path.basename(split))
    assert f'{split} line 3' in str(err.value) and '<rgb path> <depth path> <focal>' in \
        str(err.value)


def test_missing_listed_file_names_split_line_and_path(synthetic_nyu):
    rgb, depth, focal = _split_lines(synthetic_nyu, 'nyu_test.txt')[0]
    split = os.path.join(synthetic_nyu, 'missing.txt')
    with open(split, 'w') as f:
        f.write(f'{rgb} {depth} {focal}\n/{rgb} /nowhere/sync_depth_1.png {focal}\n')
    with pytest.raises(FileNotFoundError) as err:
        NYUDepthDataset(data_root=synthetic_nyu, split_file='missing.txt')
    assert f'{split} line 2' in str(err.value)
    assert os.path.join(synthetic_nyu, 'nowhere/sync_depth_1.png') in str(err.value)


# ---------------------------------------------------------------- loading and the border crop


def test_depth_loader_refuses_what_is_not_uint16_millimetres(tmp_path):
    load = LoadDepthAnnotationChecked(depth_rescale_factor=1e-3)
    cases = {'grey8.png': np.full((4, 5), 7, np.uint8),
             'colour16.png': np.full((4, 5, 3), 700, np.uint16)}
    for name, array in cases.items():
        cv2.imwrite(str(tmp_path / name), array)
        with pytest.raises(ValueError, match=f'{tmp_path / name}.*one channel of uint16'):
            load(dict(depth_map_path=str(tmp_path / name), seg_fields=[]))
    (tmp_path / 'empty.png').write_bytes(b'')
    with pytest.raises(OSError, match=f'unreadable image {tmp_path / "empty.png"}'):
        load(dict(depth_map_path=str(tmp_path / 'empty.png'), seg_fields=[]))
    cv2.imwrite(str(tmp_path / 'ok.png'), np.array([[0, 1500, 65535]], np.uint16))
    out = load(dict(depth_map_path=str(tmp_path / 'ok.png'), seg_fields=[]))
    np.testing.assert_allclose(out['gt_depth_map'], [[0, 1.5, 65.535]], rtol=1e-6)
    assert out['seg_fields'] == ['gt_depth_map'] and out['depth_rescale_factor'] == 1e-3


def test_nyu_crop_takes_the_border_off_image_and_depth():
    rng = np.random.default_rng(0)
    img, depth = rng.integers(0, 255, (480, 640, 3), np.uint8), rng.random((480, 640))
    out = NYUCrop()(dict(img=img, gt_depth_map=depth, seg_fields=['gt_depth_map']))
    assert np.array_equal(out['img'], img[45:472, 43:608])
    assert np.array_equal(out['gt_depth_map'], depth[45:472, 43:608])
    assert out['img_shape'] == (427, 565)
    with pytest.raises(ValueError, match=r'img of x.jpg is \(479, 640\).*480, 640'):
        NYUCrop()(dict(img=img[1:], img_path='x.jpg', seg_fields=[]))


def test_train_pipeline_pads_rotations_with_invalid_depth_by_nearest(synthetic_nyu, monkeypatch,
                                                                    mmseg_scope):
    from mmseg.registry import DATASETS
    cfg = _config(synthetic_nyu, monkeypatch)
    steps = [t['type'] for t in cfg.train_pipeline]
    assert steps == ['LoadImageFromFileChecked', 'LoadDepthAnnotationChecked', 'NYUCrop',
                     'RandomRotate', 'RandomFlip', 'RandomCrop', 'PhotoMetricDistortion',
                     'PackSegInputs']
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'RandomRotate':
            step['prob'] = 1.0  # rotate every image: its padding must show
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)
    for i in range(len(dataset)):
        sample = dataset[i]
        depth = sample['data_samples'].gt_depth_map.data.numpy()[0]
        assert depth.shape == (416, 544) and tuple(sample['inputs'].shape) == (3, 416, 544)
        with Image.open(dataset.get_data_info(i)['depth_map_path']) as im:
            stored = np.unique(np.asarray(im).astype(np.float32) * np.float32(1e-3))
        # nearest neighbour and 0 padding: every value is one the file holds, or 0 (invalid)
        assert np.isin(depth, np.append(stored, 0)).all()


# ---------------------------------------------------------------- the metric


def _reference(gt: np.ndarray, pred: np.ndarray) -> dict:
    """RMSE, abs rel and delta1 over the Eigen crop's pixels with ground truth in (0.001, 10)."""
    keep = np.zeros(gt.shape, bool)
    keep[EIGEN] = True
    keep &= (gt > 0.001) & (gt < 10)
    g, p = gt[keep].astype(np.float64), pred[keep].astype(np.float64)
    return dict(rmse=np.sqrt(np.mean((p - g) ** 2)), abs_rel=np.mean(np.abs(p - g) / g),
                d1=np.mean(np.maximum(g / p, p / g) < 1.25))


def _depths(seed: int, count: int):
    """Ground truths in integer millimetres (some 0, some at or beyond 10 m) and predictions."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        mm = rng.integers(500, 9000, (480, 640))
        mm[rng.random((480, 640)) < 0.05] = 0
        mm[rng.random((480, 640)) < 0.03] = rng.choice([10000, 12000])
        gt = (mm / 1000).astype(np.float32)
        pred = (gt * rng.uniform(0.7, 1.4, gt.shape)).astype(np.float32) + 0.01
        out.append((mm, gt, pred))
    return out


def _samples(depths, paths):
    return [dict(img_path=path, pred_depth_map=dict(data=torch.from_numpy(pred)[None]),
                 gt_depth_map=dict(data=torch.from_numpy(gt)[None]))
            for (_, gt, pred), path in zip(depths, paths)]


def _evaluate(samples, **kwargs):
    metric = DepthMetricWithRecords(prefix='nyu', **kwargs)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_metric_is_the_mean_over_images_of_each_images_metrics(monkeypatch):
    monkeypatch.setattr(records, 'current_records_dir', lambda: None)
    depths = _depths(0, 3)
    logged = _evaluate(_samples(depths, ['a.jpg', 'b.jpg', 'c.jpg']))
    references = [_reference(gt, pred) for _, gt, pred in depths]
    for name in ('rmse', 'abs_rel', 'd1'):
        assert logged[f'nyu/{name}'] == pytest.approx(np.mean([r[name] for r in references]),
                                                      rel=1e-5)
    assert set(logged) == {f'nyu/{n}' for n in DepthMetricWithRecords.METRICS}

    # huge errors where nothing is evaluated (outside the Eigen crop, invalid ground truth)
    # change nothing
    spoiled = []
    for mm, gt, pred in depths:
        ignored = np.ones(gt.shape, bool)
        ignored[EIGEN] = False
        ignored |= (mm == 0) | (mm >= 10000)
        spoiled.append((mm, gt, np.where(ignored, np.float32(1e4), pred)))
    assert _evaluate(_samples(spoiled, ['a.jpg', 'b.jpg', 'c.jpg'])) == logged

    only = _evaluate(_samples(depths, ['a.jpg', 'b.jpg', 'c.jpg']), depth_metrics=['rmse', 'd1'])
    assert only == {'nyu/rmse': logged['nyu/rmse'], 'nyu/d1': logged['nyu/d1']}
    with pytest.raises(ValueError, match='choose among'):
        DepthMetricWithRecords(depth_metrics=['rsme'])


def test_metric_agrees_with_mmsegs_own(monkeypatch):
    from mmseg.evaluation import DepthMetric
    monkeypatch.setattr(records, 'current_records_dir', lambda: None)
    samples = _samples(_depths(1, 2), ['a.jpg', 'b.jpg'])
    ours = _evaluate(samples)
    theirs = DepthMetric(min_depth_eval=1e-3, max_depth_eval=10, crop_type='nyu_crop',
                         prefix='nyu')
    theirs.process({}, samples)
    assert ours == pytest.approx(theirs.evaluate(2), rel=1e-6)


def test_metric_refuses_ground_truth_the_eigen_crop_is_not_defined_on():
    gt = torch.ones(1, 470, 640)
    metric = DepthMetricWithRecords()
    with pytest.raises(ValueError, match=r'Eigen crop.*\(480, 640\).*\(470, 640\)'):
        metric.process({}, [dict(img_path='a.jpg', pred_depth_map=dict(data=gt),
                                 gt_depth_map=dict(data=gt))])


# ---------------------------------------------------------------- records


def test_records_pair_on_path_and_ground_truth_and_reproduce_resamples(tmp_path, monkeypatch):
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    root = '/data/nyu/'
    # the same file name in two scenes: the path tells them apart
    rel = ['kitchen_0028b/rgb_00001.jpg', 'bedroom_0004/rgb_00001.jpg',
           'bedroom_0004/rgb_00002.jpg', 'office_0003/rgb_00001.jpg']
    depths = _depths(2, 4)
    samples = _samples(depths, [root + r for r in rel])
    # processed on two "ranks", gathered as mmengine gathers: the results, pickled
    ranks = [DepthMetricWithRecords(prefix='nyu') for _ in range(2)]
    for metric, part in zip(ranks, (samples[:3], samples[3:])):
        metric.dataset_meta = dict(classes=('depth',), data_root=root)
        metric.process({}, part)
    gathered = pickle.loads(pickle.dumps(ranks[0].results + ranks[1].results))
    logged = ranks[0].compute_metrics(gathered)

    found = records.read_records(str(tmp_path))
    assert set(found) == {f'nyu/{n}' for n in DepthMetricWithRecords.METRICS}
    expected_keys = [f'{r}#{records.label_map_digest(mm)}' for r, (mm, _, _) in zip(rel, depths)]
    references = [_reference(gt, pred) for _, gt, pred in depths]
    for name in ('rmse', 'abs_rel', 'd1'):
        record = found[f'nyu/{name}']
        assert record.entry['kind'] == 'mean' and record.entry['pairing'] == 'path#gt_sha256'
        assert record.keys.tolist() == expected_keys
        assert record.value == logged[name]
        metric = metric_of(record)
        assert metric(np.ones(4)) == pytest.approx(logged[name], rel=1e-12)
        for counts in ([3, 0, 1, 0], [0, 2, 0, 0], [1, 1, 2, 5]):
            drawn = [r[name] for r, c in zip(references, counts) for _ in range(c)]
            assert metric(np.array(counts)) == pytest.approx(np.mean(drawn), rel=1e-5)


def test_an_image_without_evaluated_pixels_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    depths = _depths(3, 2)
    mm, gt, pred = depths[1]
    depths[1] = (np.zeros_like(mm), np.zeros_like(gt), pred)  # all invalid
    with pytest.warns(UserWarning, match='b.jpg: no ground-truth pixel'):
        logged = _evaluate(_samples(depths, ['/r/a.jpg', '/r/b.jpg']))
    assert logged['nyu/rmse'] == pytest.approx(_reference(*depths[0][1:])['rmse'], rel=1e-5)
    record = records.read_records(str(tmp_path))['nyu/rmse']
    assert np.isnan(record.arrays[record.entry['array']][1])
    assert metric_of(record)(np.ones(2)) == pytest.approx(logged['nyu/rmse'], rel=1e-12)
    assert np.isnan(metric_of(record)(np.array([0, 3])))


def test_mean_records_of_the_wrong_length_are_refused(tmp_path):
    with pytest.raises(ValueError, match='x/rmse has values of shape'):
        records.write_means(str(tmp_path), 'x', ['a', 'b'], {'x/rmse': np.ones(3)},
                            {'x/rmse': 1.0})
    records.write_means(str(tmp_path / 'run' / 'records'), 'x', ['a', 'b'],
                        {'x/rmse': np.array([1.0, 3.0])}, {'x/rmse': 2.0})
    (record,) = records.read_records(str(tmp_path / 'run')).values()
    assert record.identity is None and metric_of(record)(np.array([1, 1])) == 2.0
    npz = tmp_path / 'run' / 'records' / 'x.npz'
    np.savez(npz, keys=np.array(['a', 'b']), values0=np.ones(3))
    with pytest.warns(UserWarning, match='left out'):
        assert records.read_records(str(tmp_path / 'run')) == {}


def test_config_evaluates_at_full_size_with_records(synthetic_nyu, monkeypatch):
    cfg = _config(synthetic_nyu, monkeypatch)
    assert [t['type'] for t in cfg.test_pipeline] == [
        'LoadImageFromFileChecked', 'LoadDepthAnnotationChecked', 'PackSegInputs']
    assert cfg.val_evaluator == dict(type='DepthMetricWithRecords', prefix='nyu')
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.test_dataloader.dataset.split_file == 'nyu_test.txt'
    (rotate,) = [t for t in cfg.train_pipeline if t['type'] == 'RandomRotate']
    assert rotate['seg_pad_val'] == 0 and rotate['degree'] == 2.5
