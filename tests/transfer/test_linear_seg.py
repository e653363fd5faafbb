"""The ADE20K frozen linear probe (SPEC section 4h): the head against a forward written here, the
frozen encoder (no graph, no gradient, weights unchanged by training), the recipe's configs, a
training run on synthetic ADE20K, and the ViT-H/14 padding to whole patches of 14."""
import glob
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import backbones  # noqa: F401  (registers JEPAViT, as the configs' custom_imports do)
import transfer.ade  # noqa: F401  (registers the ADE20K dataset and metric)
import transfer.linear_seg_head  # noqa: F401  (registers LinearSegHead)
from tests.helpers import (ROOT, assert_encoder_kept, config_differences, logged_scalars,
                           metrics_of_test_run, mmseg_model, train_from_written_encoder)

FOLDER = osp.join(ROOT, 'configs', 'seglinear')
LEAVES = {(m, a): osp.join(FOLDER, f'seglinear_{m}-{a}_40k_ade20k.py')
          for m in ('ijepa', 'dseq') for a in ('vitb16', 'vith14')}
TINY = osp.join(FOLDER, 'seglinear_dseq-vittiny_40iter_synthade.py')
DEPTH = {'vitb16': 12, 'vith14': 32}


def tiny_segmentor(**head) -> torch.nn.Module:
    """The tiny smoke config's probe (random encoder), its head's config updated with ``head``."""
    cfg = Config.fromfile(TINY)
    cfg.model.decode_head.update(head)
    torch.manual_seed(0)
    return mmseg_model(cfg)


def labelled(labels: torch.Tensor) -> list:
    """mmseg's data samples of label maps (B, 1, H, W)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    return [SegDataSample(gt_sem_seg=PixelData(data=label)) for label in labels]


def _randomise_norm(bn: torch.nn.BatchNorm2d) -> None:
    """Running statistics and an affine map far from the identity, so that the test sees them."""
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2.0)
    torch.nn.init.normal_(bn.weight)
    torch.nn.init.normal_(bn.bias)


@pytest.mark.parametrize('blocks', [(5,), (2, 5)], ids=['last', 'ms'])
def test_the_head_reads_the_normed_patch_tokens_of_its_blocks(blocks):
    """Logits = 1x1 conv(BN(concatenated patch maps)), upsampled bilinearly to the input: at
    prediction and, against the labels, in the loss."""
    head = {} if len(blocks) == 1 else dict(
        in_channels=[96] * len(blocks), in_index=list(range(len(blocks))),
        input_transform='resize_concat')
    model = tiny_segmentor(**head)
    model.backbone.out_indices = blocks
    model.eval()
    _randomise_norm(model.decode_head.bn)
    x = torch.randn(2, 3, 96, 80)
    with torch.no_grad():
        maps = model.backbone.forward_intermediates(x, blocks, norm='last', intermediates_only=True)
        bn, conv = model.decode_head.bn, model.decode_head.conv_seg
        ref = F.batch_norm(torch.cat(maps, 1), bn.running_mean, bn.running_var, bn.weight,
                           bn.bias, eps=bn.eps)
        ref = F.interpolate(F.conv2d(ref, conv.weight, conv.bias), size=(96, 80),
                            mode='bilinear', align_corners=False)
        got = model.encode_decode(x, [dict(img_shape=x.shape[2:])])
    assert maps[-1].shape == (2, 96, 6, 5)  # patch tokens only: the CLS token is dropped
    torch.testing.assert_close(got, ref)

    label = torch.randint(0, 150, (2, 1, 96, 80))
    label[:, :, :10] = 255
    samples = labelled(label)
    with torch.no_grad():
        loss = model.decode_head.loss(model.extract_feat(x), samples, {})['loss_ce']
    # mmseg's mean over every pixel, the ignored ones counting zero
    expected = F.cross_entropy(ref, label[:, 0], ignore_index=255, reduction='sum') / label.numel()
    torch.testing.assert_close(loss, expected)


def test_the_frozen_encoder_builds_no_graph_and_gets_no_gradient():
    model = tiny_segmentor().train()
    bb = model.backbone
    assert not any(p.requires_grad for p in bb.parameters())
    assert not any(m.training for m in (bb.patch_embed, bb.norm, *bb.blocks))
    saved = []
    x = torch.randn(2, 3, 64, 64)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        (feat,) = model.extract_feat(x)
    # nothing kept for a backward: no activation memory, no recomputation to save any
    assert not saved and not feat.requires_grad and feat.grad_fn is None
    model.loss(x, labelled(torch.randint(0, 150, (2, 1, 64, 64))))['decode.loss_ce'].backward()
    assert all(p.grad is None for p in bb.parameters())
    assert all(p.grad is not None for p in model.decode_head.parameters())
    # the recipe's optimizer holds the head's parameters and nothing of the encoder's
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(TINY)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    held = [p for group in optimizer.param_groups for p in group['params']]
    assert sorted(map(id, held)) == sorted(map(id, model.decode_head.parameters()))


def _step(pipeline, kind):
    (step,) = [t for t in pipeline if t['type'] == kind]
    return step


@pytest.mark.parametrize('key', sorted(LEAVES), ids='-'.join)
def test_leaf_configs_hold_the_recipe(key, monkeypatch):
    for name in ('ADE_ROOT', 'IJEPA_VITH14', 'DSEQ_VITH14'):
        monkeypatch.delenv(name, raising=False)
    method, arch = key
    cfg = Config.fromfile(LEAVES[key])
    model, depth = cfg.model, DEPTH[arch]
    bb, head = model.backbone, model.decode_head
    assert cfg.pretrain_method == method and bb.use_cls_token == (method == 'dseq')
    assert (bb.patch_size, bb.frozen_stages, tuple(bb.out_indices)) == \
        (16 if arch == 'vitb16' else 14, depth, (depth - 1,))
    assert (bb.norm_last, bb.with_cp, bb.drop_path_rate, bb.window_size) == (True, False, 0, 0)
    assert 'neck' not in model and 'auxiliary_head' not in model
    assert (head.type, head.in_channels, head.in_index, head.num_classes, head.norm_cfg.type) == \
        ('LinearSegHead', 768 if arch == 'vitb16' else 1280, 0, 150, 'SyncBN')

    window = (512, 512) if arch == 'vitb16' else (518, 518)  # 518 = 37 x 14
    assert model.test_cfg == dict(mode='slide', crop_size=window, stride=(341, 341))
    assert model.data_preprocessor.size == window
    assert model.data_preprocessor.test_cfg == dict(size_divisor=16 if arch == 'vitb16' else 14)
    assert cfg.report == dict(task='ADE20K linear', metrics={'mIoU': ('mIoU', 1)}, protocol=None,
                              selection='last iteration, no selection', input_size=window)
    assert _step(cfg.train_pipeline, 'RandomCrop') == dict(
        type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75)
    resize = _step(cfg.train_pipeline, 'RandomResize')
    assert (resize.scale, resize.ratio_range) == ((2048, 512), (0.5, 2.0))
    assert {'RandomFlip', 'PhotoMetricDistortion'} <= {t.type for t in cfg.train_pipeline}
    assert _step(cfg.train_pipeline, 'LoadSegAnnotationsChecked').reduce_zero_label
    assert _step(cfg.test_pipeline, 'Resize').scale == (2048, 512)
    assert cfg.val_evaluator == dict(type='IoUMetricWithRecords', iou_metrics=['mIoU'])
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16

    opt = cfg.optim_wrapper
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == \
        ('AdamW', 1e-3, 1e-4)
    assert opt.paramwise_cfg == dict(num_layers=depth, decay_rate=1.0)
    assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (40000, 8000)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 1500)
    assert (poly.type, poly.begin, poly.end, poly.power, poly.eta_min) == \
        ('PolyLR', 1500, 40000, 1.0, 0.0)
    assert 'save_best' not in cfg.default_hooks.checkpoint  # it would select on the split reported
    assert 'transfer.linear_seg_head' in cfg.custom_imports.imports


@pytest.mark.parametrize('arch', ['vitb16', 'vith14'])
def test_the_two_methods_differ_only_in_checkpoint_and_cls(arch):
    assert config_differences(LEAVES['dseq', arch], LEAVES['ijepa', arch]) == {
        'pretrain_method', 'model.backbone.use_cls_token', 'model.backbone.init_cfg.checkpoint'}


def test_patch14_crops_and_windows_are_whole_patches():
    """The ViT-H/14 probe, its encoder shrunk: a 512 crop is trained padded to 518 (label padding
    ignored); odd-sized test images are padded to multiples of 14, read by windows of whole
    patches, and predicted at their own size."""
    cfg = Config.fromfile(LEAVES['ijepa', 'vith14'])
    cfg.merge_from_dict({'model.backbone': dict(embed_dim=28, depth=2, num_heads=2,
                                                out_indices=(1,), frozen_stages=2,
                                                init_cfg=dict(checkpoint=None)),
                         'model.decode_head.in_channels': 28})
    model = mmseg_model(cfg)
    from mmseg.structures import SegDataSample
    crop = dict(inputs=[torch.randint(0, 256, (3, 512, 512), dtype=torch.uint8)],
                data_samples=labelled(torch.zeros(1, 1, 512, 512, dtype=torch.long)))
    batch = model.data_preprocessor(crop, training=True)
    label = batch['data_samples'][0].gt_sem_seg.data
    assert batch['inputs'].shape[-2:] == label.shape[-2:] == (518, 518)
    assert (label[:, 512:] == 255).all() and (label[:, :, 512:] == 255).all()
    assert model.decode_head.ignore_index == 255
    loss = model.loss(batch['inputs'], batch['data_samples'])['decode.loss_ce']
    assert math.isfinite(loss.item())

    windows = []
    model.backbone.register_forward_pre_hook(lambda m, args: windows.append(args[0].shape[-2:]))
    model.eval()
    for size, expected in (((531, 697), [(518, 518)] * 4), ((203, 300), [(210, 308)])):
        windows.clear()
        image = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
        sample = SegDataSample(metainfo=dict(ori_shape=size, img_shape=size))
        with torch.no_grad():
            (pred,) = model.test_step(dict(inputs=[image], data_samples=[sample]))
        assert [tuple(w) for w in windows] == expected
        assert pred.pred_sem_seg.data.shape == (1, *size)


@pytest.mark.slow
def test_training_leaves_the_encoder_untouched_and_logs_miou(synthetic_ade, tmp_path):
    """tools/train.py --test on synthetic ADE20K from a written encoder checkpoint: the loss falls,
    mIoU is logged with its per-image records, only the head is optimised, and the trained
    checkpoint holds the encoder bit for bit as it was loaded."""
    work, encoder = train_from_written_encoder(TINY, tmp_path,
                                               dict(os.environ, SYNTH_ADE_ROOT=synthetic_ade))
    rows = logged_scalars(work)
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert all(math.isfinite(v) for v in losses) and np.mean(losses[-2:]) < np.mean(losses[:2])
    (val,) = [r for r in rows if 'mIoU' in r]
    assert metrics_of_test_run(work)['mIoU'] == val['mIoU'] > 0

    from suite.results import run_records
    runs = sorted(osp.dirname(p) for p in glob.glob(osp.join(work, '*', 'vis_data')))
    assert all(run_records(run)['mIoU'].value == val['mIoU'] for run in runs)

    path = osp.join(work, f'iter_{Config.fromfile(TINY).max_iters}.pth')
    assert_encoder_kept(path, encoder)
    from backbones.safe_checkpoint import load_from_local_safely
    optimizer = load_from_local_safely(path, map_location='cpu')['optimizer']
    head = len(list(mmseg_model(Config.fromfile(TINY)).decode_head.parameters()))
    assert sum(len(g['params']) for g in optimizer['param_groups']) == len(optimizer['state']) \
        == head
