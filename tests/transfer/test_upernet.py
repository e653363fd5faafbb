"""The ADE20K UperNet path: paper configs, the layout error, the synthetic data, real training on
it, and SyncBN turning into BN without distribution."""
import filecmp
import glob
import math
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from tests.helpers import ROOT, config_differences, logged_scalars, run_tool

import transfer.ade  # noqa: F401  (registers ADE20KSegDataset, as the configs' custom_imports do)
from synthetic.ade import ADE_IDS, make_ade20k

DSEQ = os.path.join(ROOT, 'configs', 'upernet', 'upernet_dseq-vitb16_160k_ade20k.py')
IJEPA = os.path.join(ROOT, 'configs', 'upernet', 'upernet_ijepa-vitb16_160k_ade20k.py')
SMOKE = os.path.join(ROOT, 'configs', 'upernet', 'upernet_dseq-vittiny_40iter_synthade.py')


def _step(pipeline, kind):
    (step,) = [t for t in pipeline if t['type'] == kind]
    return step


def test_paper_recipe(monkeypatch):
    monkeypatch.delenv('ADE_ROOT', raising=False)
    cfg = Config.fromfile(DSEQ)
    model = cfg.model
    bb, neck, head, aux = model.backbone, model.neck, model.decode_head, model.auxiliary_head
    # img_size: the pretraining resolution, whose position table every input grid is resampled from
    assert (bb.type, bb.arch, bb.patch_size, bb.img_size) == ('JEPAViT', 'b', 16, 224)
    assert tuple(bb.out_indices) == (3, 5, 7, 11) and bb.window_size == 0  # global attention
    assert (bb.drop_path_rate, bb.with_cp, bb.init_cfg.encoder) == (0.1, True, 'target')
    assert (neck.type, neck.embed_dim, neck.rescales) == ('Feature2Pyramid', 768, [4, 2, 1, 0.5])
    assert (head.type, head.in_channels, head.in_index) == ('UPerHead', [768] * 4, [0, 1, 2, 3])
    assert (head.pool_scales, head.channels, head.num_classes) == ((1, 2, 3, 6), 512, 150)
    assert (head.dropout_ratio, head.loss_decode.loss_weight) == (0.1, 1.0)
    assert (aux.type, aux.in_index, aux.in_channels, aux.channels) == ('FCNHead', 2, 768, 256)
    assert (aux.num_classes, aux.loss_decode.loss_weight) == (150, 0.4)
    assert head.norm_cfg.type == aux.norm_cfg.type == neck.norm_cfg.type == 'SyncBN'
    assert model.data_preprocessor.size == (512, 512) and model.data_preprocessor.bgr_to_rgb
    assert model.test_cfg == dict(mode='slide', crop_size=(512, 512), stride=(341, 341))

    assert _step(cfg.train_pipeline, 'RandomCrop')['crop_size'] == (512, 512)
    resize = _step(cfg.train_pipeline, 'RandomResize')
    assert (resize['scale'], resize['ratio_range']) == ((2048, 512), (0.5, 2.0))
    assert _step(cfg.test_pipeline, 'Resize')['scale'] == (2048, 512)  # single scale
    assert cfg.val_evaluator == dict(type='IoUMetricWithRecords', iou_metrics=['mIoU'])
    data = cfg.train_dataloader
    assert data.dataset.data_root == 'data/ade/ADEChallengeData2016/'
    assert data.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16

    assert (cfg.train_cfg.type, cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == \
        ('IterBasedTrainLoop', 160000, 16000)
    opt = cfg.optim_wrapper
    assert (opt.type, opt.dtype, opt.optimizer.type, opt.constructor) == \
        ('AmpOptimWrapper', 'bfloat16', 'AdamW', 'ViTLayerDecayOptimWrapperConstructor')
    assert (opt.optimizer.lr, opt.optimizer.weight_decay, opt.paramwise_cfg.decay_rate) == \
        (1e-4, 0.05, 1.0)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.by_epoch) == ('LinearLR', 0, 1500, False)
    assert (poly.type, poly.begin, poly.end, poly.power, poly.eta_min, poly.by_epoch) == \
        ('PolyLR', 1500, 160000, 1.0, 0.0, False)
    assert 'save_best' not in cfg.default_hooks.checkpoint  # it would select on the split reported


def test_backbone_encodes_512_crops_with_global_attention_and_their_grid():
    """The recipe's backbone, narrowed: every block global, the pretraining grid's sin-cos table
    resampled to the actual grid."""
    import backbones
    import torch.nn.functional as F

    from backbones.pos_embed import sincos_2d
    cfg = Config.fromfile(DSEQ).model.backbone
    cfg.update(embed_dim=32, num_heads=2, with_cp=False, init_cfg=None)
    vit = backbones.JEPAViT(**{k: v for k, v in cfg.items() if k != 'type'}).eval()
    assert all(blk.window_size == 0 for blk in vit.blocks) and len(vit.blocks) == 12
    assert torch.equal(vit.pos_embed, sincos_2d(32, (14, 14)))  # the pretraining grid's table
    with torch.no_grad():
        maps = vit(torch.randn(1, 3, 512, 512))
        wide = vit(torch.randn(1, 3, 512, 688))  # a slide window is 512, a whole image need not be
    assert [tuple(m.shape) for m in maps] == [(1, 32, 32, 32)] * 4
    assert [tuple(m.shape[-2:]) for m in wide] == [(32, 43)] * 4
    # every input grid is resampled once, bicubically, from the pretraining grid (SPEC section 4)
    grid = sincos_2d(32, (14, 14)).reshape(1, 14, 14, 32).permute(0, 3, 1, 2)
    wide_table = F.interpolate(grid, size=(32, 43), mode='bicubic', align_corners=False)
    torch.testing.assert_close(vit.pos_embed_for((32, 43)),
                               wide_table.permute(0, 2, 3, 1).reshape(1, 32 * 43, 32))


def test_the_two_methods_differ_only_in_checkpoint_and_cls():
    assert config_differences(DSEQ, IJEPA) == {'pretrain_method', 'model.backbone.use_cls_token',
                                               'model.backbone.init_cfg.checkpoint'}
    dseq, ijepa = Config.fromfile(DSEQ).model.backbone, Config.fromfile(IJEPA).model.backbone
    assert dseq.use_cls_token and not ijepa.use_cls_token
    assert dseq.init_cfg.checkpoint == 'checkpoints/dseq_vitb16_in1k.pth'
    assert ijepa.init_cfg.checkpoint == 'checkpoints/ijepa_vitb16_in1k.pth'


def test_missing_ade_says_which_layout_and_how_to_point_elsewhere(tmp_path, monkeypatch,
                                                                  mmseg_scope):
    missing = tmp_path / 'nowhere'
    monkeypatch.setenv('ADE_ROOT', str(missing))
    cfg = Config.fromfile(DSEQ)
    from mmseg.registry import DATASETS
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(cfg.train_dataloader.dataset)
    message = str(err.value)
    for part in (f'{missing}/images/training', 'annotations/training/<name>.png',
                 'images/validation/', 'annotations/validation/',
                 'the ADE_ROOT environment variable', 'make_synthetic_data.py ade20k'):
        assert part in message


def test_generator_is_deterministic(tmp_path):
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        make_ade20k(str(tmp_path / name), num_train=2, num_val=1, seed=seed)
    for rel in ('images/validation/ADE_val_00000001.jpg',
                'annotations/training/ADE_train_00000002.png'):
        assert filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'b' / rel, shallow=False)
        assert not filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'c' / rel, shallow=False)


def test_synthetic_layout_labels_and_dataset_reading(synthetic_ade, mmseg_scope):
    assert sorted(os.listdir(synthetic_ade)) == ['annotations', 'images']
    seen = set()
    for split, short, count in (('training', 'train', 16), ('validation', 'val', 8)):
        names = [f'ADE_{short}_{i:08d}' for i in range(1, count + 1)]
        assert sorted(os.listdir(os.path.join(synthetic_ade, 'images', split))) == \
            [n + '.jpg' for n in names]
        assert sorted(os.listdir(os.path.join(synthetic_ade, 'annotations', split))) == \
            [n + '.png' for n in names]
        for n in names:
            with Image.open(os.path.join(synthetic_ade, 'images', split, n + '.jpg')) as im:
                size = im.size
            with Image.open(os.path.join(synthetic_ade, 'annotations', split, n + '.png')) as im:
                assert im.mode == 'L' and im.size == size
                label = np.asarray(im)
            assert 160 <= min(size) and max(size) <= 256 and label.max() <= 150
            assert (label[0] == 0).all() and (label[:, -1] == 0).all()  # the unlabeled frame
            seen |= set(np.unique(label).tolist())
    assert seen == {0} | set(ADE_IDS.values())

    from mmseg.registry import DATASETS
    dataset = DATASETS.build(dict(
        type='ADE20KSegDataset', data_root=synthetic_ade,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    assert len(dataset) == 16 and len(dataset.metainfo['classes']) == 150
    sample = dataset[3]
    with Image.open(sample['seg_map_path']) as im:
        raw = np.asarray(im).astype(np.int64)
    expected = np.where(raw == 0, 255, raw - 1)  # reduce_zero_label: 0 ignored, id k -> class k-1
    assert np.array_equal(sample['gt_seg_map'], expected)
    assert sample['img'].shape[:2] == raw.shape
    assert dataset.metainfo['classes'][ADE_IDS['floor'] - 1] == 'floor'


@pytest.mark.slow
def test_train_and_evaluate_on_synthetic_ade(synthetic_ade, tmp_path):
    env = dict(os.environ, SYNTH_ADE_ROOT=synthetic_ade)
    work = str(tmp_path / 'work')
    run_tool('train.py', SMOKE, '--work-dir', work, env=env)
    rows = logged_scalars(work)
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) >= 6 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])
    (metrics,) = [r for r in rows if 'mIoU' in r]
    # above twice the mIoU of painting every pixel with the most frequent class of the val split
    ids = np.concatenate([np.asarray(Image.open(p)).ravel() for p in glob.glob(
        os.path.join(synthetic_ade, 'annotations', 'validation', '*.png'))])
    counts = np.unique(ids[ids > 0], return_counts=True)[1]  # id 0 is ignored
    majority = 100 * counts.max() / counts.sum() / len(counts)
    assert metrics['mIoU'] > 2 * majority
    max_iters = Config.fromfile(SMOKE).train_cfg.max_iters
    assert metrics['step'] == max_iters  # one validation, at the end: the last checkpoint's
    # the validation's per-image records, in the run's folder, reproduce the logged mIoU
    from suite.results import run_records
    (run,) = glob.glob(os.path.join(work, '*', 'vis_data'))
    record = run_records(os.path.dirname(run))['mIoU']
    names = sorted(os.listdir(os.path.join(synthetic_ade, 'images', 'validation')))
    assert [k.split('#')[0] for k in record.keys.tolist()] == names
    assert record.value == metrics['mIoU'] and record.identity == 'miou name#gt_sha256'
    assert round(record.metric(np.ones(len(names))), 2) == metrics['mIoU']
    assert os.path.exists(os.path.join(work, f'iter_{max_iters}.pth'))


def _segmentations(rng, names, classes=6, size=(12, 9)):
    """mmseg's data samples of random predictions and labels (some ignored) for images ``names``."""
    samples = []
    for name in names:
        label = rng.integers(0, classes, size)
        label[rng.random(size) < 0.1] = 255
        pred = np.where(rng.random(size) < 0.6, label % classes, rng.integers(0, classes, size))
        samples.append(dict(img_path=f'images/validation/{name}',
                            pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                            gt_sem_seg=dict(data=torch.from_numpy(label)[None])))
    return samples


def test_miou_records_reproduce_mmsegs_miou_on_repeated_images(tmp_path, monkeypatch):
    from mmseg.evaluation import IoUMetric
    from engine import records
    from engine.records import label_map_digest
    from suite.results import run_records
    from transfer.ade import IoUMetricWithRecords
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    names = [f'{i}.jpg' for i in range(7)]
    samples = _segmentations(np.random.default_rng(0), names)
    metric = IoUMetricWithRecords(iou_metrics=['mIoU'])
    # 8 classes, 6 of them in the images: mmseg leaves the other two (IoU 0 / 0) out of the mean
    metric.dataset_meta = dict(classes=[f'c{k}' for k in range(8)])
    metric.process({}, samples[:4])
    metric.process({}, samples[4:])
    logged = metric.evaluate(len(samples))['mIoU']
    (record,) = run_records(str(tmp_path)).values()
    # each image paired by its name and the digest of its ground-truth label map
    assert record.keys.tolist() == [f'{n}#{label_map_digest(s["gt_sem_seg"]["data"].numpy())}'
                                    for n, s in zip(names, samples)]
    assert record.value == logged
    assert round(record.metric(np.ones(7)), 2) == logged
    # the reference: mmseg's own IoUMetric on the images each resample draws, repeated
    for counts in ([3, 0, 1, 0, 2, 1, 0], [0, 0, 0, 0, 0, 0, 7], [1, 2, 0, 0, 0, 0, 0]):
        reference = IoUMetric(iou_metrics=['mIoU'])
        reference.dataset_meta = metric.dataset_meta
        reference.process({}, [s for s, c in zip(samples, counts) for _ in range(c)])
        assert round(record.metric(np.array(counts)), 2) == reference.evaluate(sum(counts))['mIoU']


def test_syncbn_becomes_bn_without_distribution(tmp_path, mmseg_scope):
    from mmengine.runner import Runner
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(SMOKE)
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    assert not runner.distributed
    norms = [m for m in runner.model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)

    # Slide inference on an image smaller than the crop, with sides that are not whole patches:
    # the test-time padding to a multiple of 16 is cut from the prediction again.
    model = runner.model.eval()
    image = torch.randint(0, 256, (3, 100, 150), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(ori_shape=(100, 150), img_shape=(100, 150)))
    with torch.no_grad():
        (pred,) = model.test_step(dict(inputs=[image], data_samples=[sample]))
    assert pred.pred_sem_seg.data.shape == (1, 100, 150)
