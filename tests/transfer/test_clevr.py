"""CLEVR Count / Dist: labels, splits, the layout error, the synthetic tree and the cached probe."""
import json
import os
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from tests.helpers import ROOT, config_differences
from suite.results import run_records
from suite.results import collect
from synthetic.clevr import _COLOURS
from transfer.clevr import DIST_THRESHOLDS, ClevrDataset, count_label, dist_label, with_task

SMOKE = osp.join(ROOT, 'configs', 'clevr', 'linear_dseq-vittiny_100e_synthclevr-count.py')


def scene(*depths, name='CLEVR_train_000000.png'):
    return dict(image_filename=name,
                objects=[dict(pixel_coords=[10, 20, d]) for d in depths])


def vtab_dist(depths):
    """VTAB's rule, literally: the largest threshold index below the closest depth."""
    closest = min(depths)
    return max(i for i, t in enumerate(DIST_THRESHOLDS) if t < closest)


@pytest.mark.parametrize('count', range(3, 11))
def test_count_is_objects_minus_three(count):
    assert count_label(scene(*[9.0] * count)) == count - 3


@pytest.mark.parametrize('count', [0, 2, 11])
def test_count_outside_three_to_ten_is_refused(count):
    with pytest.raises(ValueError, match='objects'):
        count_label(scene(*[9.0] * count))


@pytest.mark.parametrize('depth,label', [
    (0.5, 0), (7.99, 0), (8.0, 0), (8.0001, 1), (8.5, 1), (8.5000001, 2), (9.0, 2), (9.2, 3),
    (9.5, 3), (9.75, 4), (10.0, 4), (10.0001, 5), (14.0, 5)])
def test_dist_bins_at_the_thresholds(depth, label):
    assert dist_label(scene(depth)) == label == vtab_dist([depth])


def test_dist_reads_the_closest_object():
    depths = [11.0, 8.7, 9.9, 12.5]
    assert dist_label(scene(*depths)) == 2 == vtab_dist(depths)
    with pytest.raises(ValueError):
        dist_label(scene(0.0, 9.0))


def write_scenes(root, part, names):
    base = osp.join(root, 'CLEVR_v1.0')
    os.makedirs(osp.join(base, 'images', part), exist_ok=True)
    os.makedirs(osp.join(base, 'scenes'), exist_ok=True)
    scenes = [scene(*[9.0] * (3 + i % 8), name=n) for i, n in enumerate(names)]
    with open(osp.join(base, 'scenes', f'CLEVR_{part}_scenes.json'), 'w') as f:
        json.dump(dict(info={}, scenes=scenes), f)


def test_vtab_splits_sizes_and_order(tmp_path):
    rng = np.random.default_rng(0)
    train = [f'CLEVR_train_{i:06d}.png' for i in range(2300)]
    val = [f'CLEVR_val_{i:06d}.png' for i in range(150)]
    write_scenes(tmp_path, 'train', list(rng.permutation(train)))  # files listed out of order
    write_scenes(tmp_path, 'val', list(rng.permutation(val)))

    def names(split, **kwargs):
        ds = ClevrDataset(str(tmp_path), 'count', split, **kwargs)
        return [osp.basename(f) for f in ds.files]

    # 90% of 2300 = 2070 scenes in the train pool, 230 in the val pool
    assert names('train800') == train[:800]
    assert names('val200') == train[2070:2270]
    assert names('train800val200') == train[:800] + train[2070:2270]
    assert names('train_full') == train[:2070] and names('val_full') == train[2070:]
    assert names('test') == val
    assert names('train800', num_train=10) == train[:10]
    with pytest.raises(ValueError, match='val_full pool, which holds 230'):
        names('val200', num_val=231)
    with pytest.raises(KeyError, match='train800'):
        names('train1k')


def test_missing_root_names_the_layout_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv('CLEVR_ROOT', str(tmp_path / 'nowhere'))
    cfg = with_task(Config.fromfile(osp.join(ROOT, 'configs', 'clevr',
                                             'linear_ijepa-vitb16_100e_clevr-dist.py')))
    from mmengine.registry import DATASETS
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(cfg.train_dataloader.dataset)
    message = str(err.value)
    for part in (f'{tmp_path}/nowhere/CLEVR_v1.0/scenes/CLEVR_train_scenes.json',
                 'CLEVR_v1.0/images/val/', 'CLEVR_ROOT', 'make_synthetic_data.py clevr'):
        assert part in message


@pytest.fixture(scope='module')
def synthetic_clevr(tmp_path_factory):
    from synthetic import make_clevr
    root = str(tmp_path_factory.mktemp('data') / 'clevr')
    make_clevr(root, num_train=120, num_val=40, seed=0)
    return root


def test_synthetic_scenes_match_their_pixels(synthetic_clevr):
    base = osp.join(synthetic_clevr, 'CLEVR_v1.0')
    for part, count in (('train', 120), ('val', 40)):
        with open(osp.join(base, 'scenes', f'CLEVR_{part}_scenes.json')) as f:
            scenes = json.load(f)['scenes']
        assert len(scenes) == count
        for s in scenes:
            assert 3 <= len(s['objects']) <= 10
            pixels = np.asarray(Image.open(osp.join(base, 'images', part, s['image_filename'])))
            closest = min(s['objects'], key=lambda o: o['pixel_coords'][2])
            x, y, _ = closest['pixel_coords']
            # drawn last, so on top: its centre is its colour with the centre's shading
            expected = np.array(_COLOURS[closest['color']]) * 0.975
            assert np.abs(pixels[y, x] - expected).max() < 1, s['image_filename']
    # each task spreads over its classes (8 for Count, 6 for Dist)
    assert len({count_label(s) for s in scenes}) >= 6
    assert len({dist_label(s) for s in scenes}) >= 4


def test_count_labels_equal_torchvision_minus_three(synthetic_clevr):
    from torchvision.datasets import CLEVRClassification
    parent = osp.dirname(synthetic_clevr)  # torchvision reads <root>/clevr/CLEVR_v1.0
    for tv_split, ours in (('train', ['train_full', 'val_full']), ('val', ['test'])):
        theirs = CLEVRClassification(parent, split=tv_split)
        files = [f for s in ours for f in ClevrDataset(synthetic_clevr, 'count', s).files]
        labels = [y for s in ours for y in ClevrDataset(synthetic_clevr, 'count', s).labels]
        assert [str(f) for f in theirs._image_files] == files
        assert [y - 3 for y in theirs._labels] == labels


def count_encoded(monkeypatch) -> list:
    """The sizes of the batches the probe's encoder is asked to encode from now on."""
    from transfer.probe import LinearProbe
    encoded = []
    extract = LinearProbe.extract

    def counting(self, images):
        encoded.append(len(images))
        return extract(self, images)
    monkeypatch.setattr(LinearProbe, 'extract', counting)
    return encoded


def test_probe_trains_once_encoded_features_for_every_readout(synthetic_clevr, tmp_path,
                                                              monkeypatch):
    from mmengine.registry import RUNNERS
    monkeypatch.setenv('SYNTH_CLEVR_ROOT', synthetic_clevr)
    cfg = Config.fromfile(SMOKE)
    cfg.work_dir = str(tmp_path)
    encoded = count_encoded(monkeypatch)
    runner = RUNNERS.build(cfg)  # the config's ClevrProbeRunner, as tools/train.py builds it
    backbone = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}
    runner.train()
    # 80 training + 12 validation images, each encoded once over 100 epochs and 2 validations
    assert sum(encoded) == 80 + 12
    losses = list(runner.message_hub.get_scalar('train/loss').data[0])
    assert np.mean(losses[-6:]) < np.mean(losses[:6]) - 0.05
    for k, v in runner.model.backbone.state_dict().items():
        assert torch.equal(v, backbone[k]), f'frozen encoder changed: {k}'
    metrics = runner.test()
    assert sum(encoded) == 80 + 12 + 40
    assert set(metrics) == {f'clevr_count/top1_{r}' for r in ('cls', 'avg', 'concat4')} | {
        'clevr_count/num_samples'}
    assert metrics.pop('clevr_count/num_samples') == 40
    model, right = runner.model.eval(), {}  # the test again, images in, no cache
    with torch.no_grad():
        for batch in runner.test_loop.image_dataloader:
            data = model.data_preprocessor(batch, False)
            for r, logits in model(data['inputs'], mode='tensor').items():
                right.setdefault(r, []).extend((logits.argmax(1) == data['data_samples']).tolist())
    for r, hits in right.items():
        assert len(hits) == 40
        assert metrics[f'clevr_count/top1_{r}'] == pytest.approx(100 * np.mean(hits)), r
    # the test's per-image records, in the run's folder: the logged top-1 on the full set, and the
    # top-1 of the images drawn on a resample; each image's file name and label pair it
    recorded = run_records(runner.log_dir)
    counts = np.random.default_rng(0).integers(0, 3, 40)
    for r, hits in right.items():
        record = recorded[f'clevr_count/top1_{r}']
        assert record.value == metrics[f'clevr_count/top1_{r}']
        assert record.metric(np.ones(40)) == pytest.approx(record.value, abs=1e-12)
        assert record.metric(counts) == pytest.approx(100 * counts @ hits / counts.sum(), abs=1e-12)
        dataset = runner.test_loop.image_dataloader.dataset
        assert record.keys.tolist() == [f'{os.path.basename(f)}#{y}'
                                        for f, y in zip(dataset.files, dataset.labels)]
        assert record.identity == 'top1 path#label'
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)  # the records are the logged evaluation's
        found = collect([str(tmp_path)])
    assert len(found.records) == 3 and all(len(seeds) == 1 and seeds[0] is not None
                                           for row in found.records.values()
                                           for seeds in row.values())


def _tiny_probe(readouts=('avg',), seed=0, head_norm=None):
    """A LinearProbe on a 4-block 16-wide encoder of 32x32 images, initialised from ``seed``."""
    import backbones  # noqa: F401  (registers JEPAViT)
    from transfer.probe import LinearProbe
    torch.manual_seed(seed)
    return LinearProbe(dict(type='JEPAViT', arch='b', embed_dim=16, depth=4, num_heads=2,
                            img_size=32, patch_size=16), num_classes=3, readouts=readouts,
                       head_norm=head_norm).eval()


def _train_probe(features, labels, head_norm, steps=60):
    """A LinearProbe on given 'avg' features after ``steps`` AdamW steps: its test-mode logits."""
    probe = _tiny_probe(head_norm=head_norm)
    opt = torch.optim.AdamW(probe.heads.parameters(), lr=1e-2)
    probe.train()
    for _ in range(steps):
        opt.zero_grad()
        probe({'avg': features}, labels, mode='loss')['loss_avg'].backward()
        opt.step()
    probe.eval()
    return probe({'avg': features}, mode='tensor')['avg']


def test_standardised_probe_sees_content_not_spread():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (96,), generator=g)
    features = torch.randn(96, 16, generator=g) + 2 * torch.nn.functional.one_hot(labels, 16)
    narrow = 0.03 * features + 5  # the same content, the spread of a tiny encoder's averages
    accuracy = {}
    for norm in (None, 'standardise'):
        wide, small = (_train_probe(f, labels, norm) for f in (features, narrow))
        accuracy[norm] = [(x.argmax(1) == labels).float().mean().item() for x in (wide, small)]
        if norm:  # a fixed affine map of the features trains the same standardised probe
            torch.testing.assert_close(wide, small, rtol=1e-3, atol=1e-3)
    # unstandardised, the same content is learnt at the usual spread and missed at the narrow one
    assert accuracy[None][1] < 0.5 < 0.8 < min(accuracy[None][0], accuracy['standardise'][1])


@pytest.mark.parametrize('task,classes', [('count', 8), ('dist', 6)])
def test_probe_recipe_and_the_two_methods(task, classes):
    dseq, ijepa = (with_task(Config.fromfile(osp.join(ROOT, 'configs', 'clevr',
                                                      f'linear_{m}-vitb16_100e_clevr-{task}.py')))
                   for m in ('dseq', 'ijepa'))
    for cfg in (dseq, ijepa):
        assert cfg.model.num_classes == classes
        assert cfg.model.backbone.init_cfg.encoder == 'target'
        assert (cfg.model.backbone.arch, cfg.model.backbone.patch_size) == ('b', 16)
        assert [cfg[f'{s}_dataloader'].dataset.split for s in ('train', 'val', 'test')] == \
            ['train800', 'val200', 'test']
        assert {cfg[f'{s}_dataloader'].dataset.task for s in ('train', 'val', 'test')} == {task}
        assert cfg.train_dataloader.dataset.img_size == 224
        assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs, cfg.train_cfg.batch_size) == \
            ('FeatureCacheTrainLoop', 100, 256)
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-3, 0.05)
        (cosine,) = cfg.param_scheduler
        # no end: the runner ends the cosine with train_cfg.max_epochs
        assert (cosine.type, cosine.eta_min, 'end' in cosine) == ('CosineAnnealingLR', 0.0, False)
        assert cfg.val_evaluator.prefix == f'clevr_{task}'
    assert config_differences(*(osp.join(ROOT, 'configs', 'clevr',
                                         f'linear_{m}-vitb16_100e_clevr-{task}.py')
                                for m in ('dseq', 'ijepa'))) == {
        'pretrain_method', 'model.backbone.use_cls_token', 'model.backbone.init_cfg.checkpoint',
        'model.readouts', 'report.protocol'}
    assert tuple(dseq.model.readouts) == ('cls', 'avg') and tuple(ijepa.model.readouts) == ('avg',)
    assert (dseq.report.protocol, ijepa.report.protocol) == ('top-1 cls', 'top-1 avg')
    assert ijepa.report.task == f'CLEVR {task.title()}'
    for cfg in (dseq, ijepa):  # a row per readout the probe reads
        assert set(cfg.report.metrics) == {f'clevr_{task}/top1_{r}' for r in cfg.model.readouts}
    assert dseq.model.backbone.use_cls_token and not ijepa.model.backbone.use_cls_token
    assert 'dseq' in dseq.model.backbone.init_cfg.checkpoint
    assert 'ijepa' in ijepa.model.backbone.init_cfg.checkpoint


def _probe_run(task, work_dir, monkeypatch, **options):
    """A CLEVR ``task`` smoke probe (DSeq-JEPA's, random init, 10 epochs) trained and tested in
    ``work_dir``: its test metrics, its runner, how many images it encoded and its log."""
    from mmengine.registry import RUNNERS
    cfg = Config.fromfile(SMOKE)
    cfg.merge_from_dict(dict(task=task, work_dir=str(work_dir),
                             experiment_name=osp.basename(work_dir),
                             train_cfg=dict(max_epochs=10, val_interval=5), **options))
    encoded = count_encoded(monkeypatch)
    runner = RUNNERS.build(cfg)
    runner.train()
    metrics = runner.test()
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return metrics, runner, sum(encoded), f.read()


def test_dist_probe_loads_the_features_the_count_probe_stored(synthetic_clevr, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv('SYNTH_CLEVR_ROOT', synthetic_clevr)
    store = str(tmp_path / 'store')
    _, count, encoded, log = _probe_run('count', tmp_path / 'count', monkeypatch,
                                        feature_store=store)
    assert encoded == 80 + 12 + 40 and len(os.listdir(store)) == 3  # train, val, test
    assert 'feature store: saved the features of 80 images' in log
    stored, dist, encoded, log = _probe_run('dist', tmp_path / 'dist', monkeypatch,
                                            feature_store=store)
    assert encoded == 0 and len(os.listdir(store)) == 3
    for size in (80, 12, 40):
        assert f'feature store: loaded the features of {size} images from {store}/' in log
    plain, alone, encoded, _ = _probe_run('dist', tmp_path / 'plain', monkeypatch)
    assert encoded == 80 + 12 + 40
    assert stored == plain and set(stored) >= {'clevr_dist/top1_cls', 'clevr_dist/top1_avg'}
    heads, plain_heads = dist.model.heads.state_dict(), alone.model.heads.state_dict()
    assert all(torch.equal(v, plain_heads[k]) for k, v in heads.items())
    for loop in ('train_loop', 'val_loop', 'test_loop'):
        cache, plain_cache, count_cache = (getattr(r, loop).cache for r in (dist, alone, count))
        assert all(torch.equal(v, plain_cache.features[k]) for k, v in cache.features.items())
        # the labels are the run's own task's, which the Count run's differ from
        assert torch.equal(cache.labels, plain_cache.labels)
        assert cache.labels.tolist() == getattr(dist, loop).image_dataloader.dataset.labels
        assert not torch.equal(cache.labels, count_cache.labels)
    # another encoder (other random weights) misses
    _, _, encoded, log = _probe_run('dist', tmp_path / 'seed1', monkeypatch, feature_store=store,
                                    randomness=dict(seed=1))
    assert encoded == 80 + 12 + 40 and 'loaded' not in log and len(os.listdir(store)) == 6


def test_feature_store_keys_the_encoder_and_the_images_not_the_task(synthetic_clevr, tmp_path):
    from transfer.feature_store import FeatureStore
    store = FeatureStore(str(tmp_path), dict(backbone=dict(type='JEPAViT', depth=2)))
    probe, f32 = _tiny_probe(), torch.float32

    def data(task='count', split='train800', img_size=32):
        return ClevrDataset(synthetic_clevr, task, split, img_size, num_train=8, num_val=8)
    key = store.key(probe, data(), f32)
    assert store.key(probe, data('dist'), f32) == key == store.key(_tiny_probe(), data(), f32)
    other = _tiny_probe()
    with torch.no_grad():
        other.backbone.blocks[1].mlp.fc2.bias[0] += 1e-6  # any weight of the encoder
    deeper = FeatureStore(str(tmp_path), dict(backbone=dict(type='JEPAViT', depth=3)))
    misses = [store.key(other, data(), f32), store.key(_tiny_probe(seed=1), data(), f32),
              store.key(probe, data(split='val200'), f32),
              store.key(probe, data(img_size=48), f32), store.key(probe, data(), torch.float16),
              store.key(_tiny_probe(('avg', 'concat4')), data(), f32),
              deeper.key(probe, data(), f32)]
    assert len({key, *misses}) == 1 + len(misses)
    # the checkpoint an encoder loads is hashed as weights, not as its init_cfg
    loading = FeatureStore(str(tmp_path), dict(backbone=dict(type='JEPAViT', depth=2,
                                                             init_cfg=dict(checkpoint='x.pth'))))
    assert loading.key(probe, data(), f32) == key
    assert store.key(probe, torch.utils.data.Subset(data(), range(4)), f32) is None


@pytest.mark.parametrize('dtype', ['float32', 'float16', 'bfloat16'])
def test_feature_store_round_trips_the_features_bit_for_bit(synthetic_clevr, tmp_path,
                                                            monkeypatch, dtype):
    from mmengine.logging import MMLogger
    from torch.utils.data import DataLoader, Subset
    from transfer.feature_store import FeatureStore
    from transfer.feature_cache import FeatureCache
    logger = MMLogger.get_instance('test_feature_store')
    probe, store = _tiny_probe(('avg', 'concat4')), FeatureStore(str(tmp_path), {})
    images = ClevrDataset(synthetic_clevr, 'count', 'train800', 32, num_train=10)

    def filled(dataset):
        cache = FeatureCache(DataLoader(dataset, batch_size=4), dtype, store)
        cache.fill(probe, logger)
        return cache
    saved = filled(images)
    stored = [f'{store.key(probe, images, saved.dtype)}.pt']
    assert os.listdir(tmp_path) == stored
    # a dataset without feature_key is encoded as without a store, and not stored; its batches are
    # the first two of the whole set's (a float32 matmul may round otherwise in a smaller batch)
    subset = filled(Subset(images, range(8)))
    assert os.listdir(tmp_path) == stored
    assert all(torch.equal(v, saved.features[k][:8]) for k, v in subset.features.items())
    assert subset.labels.tolist() == images.labels[:8]

    def no_encoding(images):
        raise AssertionError('the stored features were encoded again')
    monkeypatch.setattr(probe, 'extract', no_encoding)
    loaded = filled(images)
    for k, v in saved.features.items():
        assert v.dtype == loaded.features[k].dtype == getattr(torch, dtype)
        assert torch.equal(v, loaded.features[k]), k
    assert torch.equal(loaded.labels, saved.labels)
