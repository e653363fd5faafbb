"""The frozen NYU-Depth v2 linear probe (SPEC section 4h): DINOv2's linear depth head against an
independent forward from the encoder's intermediate features, its two losses against hand
computations (and the warm-up), the recipe's configs, and real training on a synthetic NYU."""
import glob
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import backbones
import transfer.nyu  # noqa: F401  (registers the NYU dataset, transforms and metric)
from synthetic.nyu import make_nyu
from tests.helpers import (ROOT, assert_encoder_kept, logged_scalars,
                           metrics_of_test_run, mmseg_model, train_from_written_encoder)
from transfer.linear_depth_head import (LinearDepthHead, LogDepthGradientLoss,
                                        ScaleInvariantLogLoss)

TINY = dict(embed_dim=32, depth=4, num_heads=2, img_size=64, patch_size=16)
FOLDER = osp.join(ROOT, 'configs', 'depthlinear')
SMOKE = osp.join(FOLDER, 'depthlinear_{}-vittiny_40iter_synthnyu.py')
#: leaf name -> (task, 1-based blocks read, token); each for both methods, ViT-B/16 and ViT-H/14
LEAVES = {
    'depthlinear_{}-vitb16': ('NYU-Depth v2 linear', (12,), None),
    'depthlinear4_{}-vitb16': ('NYU-Depth v2 linear 4', (3, 6, 9, 12), None),
    'depthlinear-token_{}-vitb16': ('NYU-Depth v2 linear +token', (12,), 'token'),
    'depthlinear4-token_{}-vitb16': ('NYU-Depth v2 linear 4 +token', (3, 6, 9, 12), 'token'),
    'depthlinear_{}-vith14': ('NYU-Depth v2 linear', (32,), None),
    'depthlinear4_{}-vith14': ('NYU-Depth v2 linear 4', (8, 16, 24, 32), None),
    'depthlinear-token_{}-vith14': ('NYU-Depth v2 linear +token', (32,), 'token'),
    'depthlinear4-token_{}-vith14': ('NYU-Depth v2 linear 4 +token', (8, 16, 24, 32), 'token'),
}
# the head builds its losses from mmseg's registry: in mmseg's scope, as in a run, whatever scope
# an earlier test left current
pytestmark = pytest.mark.usefixtures('mmseg_scope')

#: the token each method's "+token" head reads: I-JEPA has no CLS
TOKEN = dict(ijepa='avg', dseq='cls')


def _vit(use_cls_token=True, **kwargs) -> backbones.JEPAViT:
    torch.manual_seed(0)
    return backbones.JEPAViT(**TINY, use_cls_token=use_cls_token, frozen_stages=4,
                             norm_last=False, **kwargs).eval()


def _reference_depth(features, token, weight, bias):
    """DINOv2's linear depth head written out: per layer the patch map and, for ``token``, the
    CLS (first prefix token) or the mean patch token repeated over the grid; the layers side by
    side; x4 bilinear upsampling; a 1x1 conv; ReLU + 0.1 normalised to sum 1 over 256 bins
    uniform on [0.001, 10]; depth the weighted sum of the bins."""
    layers = []
    for patches, prefix in features:
        b, d, h, w = patches.shape
        layers.append(patches)
        if token is not None:
            vector = prefix[:, 0] if token == 'cls' else patches.flatten(2).mean(-1)
            layers.append(vector.reshape(b, d, 1, 1).repeat(1, 1, h, w))
    x = F.interpolate(torch.cat(layers, 1), scale_factor=4, mode='bilinear', align_corners=False)
    scores = torch.einsum('bchw,kc->bkhw', x, weight[:, :, 0, 0]) + bias[None, :, None, None]
    p = scores.clamp(min=0) + 0.1
    p = p / p.sum(1, keepdim=True)
    bins = torch.from_numpy(np.linspace(0.001, 10.0, 256)).float()
    return (p * bins[None, :, None, None]).sum(1, keepdim=True)


@pytest.mark.parametrize('token', [None, 'cls', 'avg'])
def test_head_reads_the_blocks_outputs_without_norm_as_dinov2(token):
    vit = _vit(out_indices=(1, 3), with_prefix_tokens=True)
    x = torch.randn(2, 3, 48, 80)
    with torch.no_grad():
        features = vit.forward_intermediates(x, [1, 3], norm=False, return_prefix_tokens=True,
                                             intermediates_only=True)
        head = LinearDepthHead(in_channels=[32, 32], token=token)
        depth = head(vit(x))
        expected = _reference_depth(features, token, head.conv_depth.weight, head.conv_depth.bias)
    assert depth.shape == (2, 1, 12, 20)  # the 3x5 grid upsampled x4
    torch.testing.assert_close(depth, expected, rtol=1e-5, atol=1e-5)
    assert head.conv_depth.in_channels == 32 * 2 * (1 if token is None else 2)
    assert ((depth > 0.001) & (depth < 10)).all()
    if token != 'cls':  # plain maps, without the prefix tokens, read the same
        vit.with_prefix_tokens = False
        with torch.no_grad():
            torch.testing.assert_close(head(vit(x)), depth, rtol=0, atol=0)


def test_depth_is_float32_under_bf16_autocast():
    head = LinearDepthHead(in_channels=[32])
    maps = (torch.randn(2, 32, 3, 5),)
    with torch.no_grad():
        full = head(maps)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            mixed = head(maps)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, full, rtol=2e-2, atol=0)


def test_cls_token_needs_the_prefix_tokens_and_the_head_its_layers():
    with torch.no_grad():
        maps = _vit(out_indices=(3,))(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='with_prefix_tokens=True'):
        LinearDepthHead(in_channels=[32], token='cls')(maps)
    with pytest.raises(ValueError, match='backbone.out_indices'):
        LinearDepthHead(in_channels=[32, 32])(maps)
    with pytest.raises(ValueError, match="token must be one of"):
        LinearDepthHead(in_channels=[32], token='mean')


def _maps(seed=0, shape=(2, 1, 9, 11)):
    """Predicted and ground-truth depths with invalid pixels: 0 (no depth), beyond 10 m."""
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0.5, 9.0, shape)
    gt = rng.uniform(0.5, 9.0, shape)
    gt[rng.random(shape) < 0.2] = 0.0
    gt[rng.random(shape) < 0.05] = 12.0
    return pred, gt, (gt > 0.001) & (gt < 10)


def _silog_numpy(pred, gt, valid, mean_only=False):
    g = np.log(pred[valid]) - np.log(gt[valid])
    return np.sqrt((0.0 if mean_only else np.var(g)) + 0.15 * np.mean(g) ** 2)


def _gradient_numpy(pred, gt, valid, scales=(1, 2, 4, 6)):
    """MegaDepth's multi-scale gradient term, pixel by pixel, per image."""
    total = 0.0
    for s in scales:
        p, t, m = pred[..., ::s, ::s], gt[..., ::s, ::s], valid[..., ::s, ::s]
        d = np.where(m, np.log(p) - np.log(np.where(m, t, 1.0)), 0.0)
        acc = 0.0
        for b in range(d.shape[0]):
            rows, cols = d.shape[-2:]
            for i in range(rows):
                for j in range(cols):
                    for di, dj in ((2, 0), (0, 2)):
                        if i + di < rows and j + dj < cols and m[b, 0, i, j] and \
                                m[b, 0, i + di, j + dj]:
                            acc += abs(d[b, 0, i, j] - d[b, 0, i + di, j + dj])
        total += acc / m.sum()
    return total


def test_losses_match_hand_computations_on_valid_pixels():
    pred, gt, valid = _maps()
    tensors = [torch.from_numpy(a) for a in (pred, gt, valid)]
    silog = ScaleInvariantLogLoss(warm_up_iters=0).eval()
    np.testing.assert_allclose(float(silog(*tensors)), _silog_numpy(pred, gt, valid), rtol=1e-6)
    gradient = LogDepthGradientLoss(loss_weight=0.5)
    np.testing.assert_allclose(float(gradient(*tensors)),
                               0.5 * _gradient_numpy(pred, gt, valid), rtol=1e-6)
    # no valid pixel: zero, and still a graph to backpropagate through
    p = torch.from_numpy(pred).requires_grad_()
    nothing = torch.zeros_like(tensors[2])
    for loss in (silog, gradient):
        value = loss(p, tensors[1], nothing)
        value.backward()
        assert float(value.detach()) == 0.0


def test_silog_warm_up_counts_training_calls_and_resumes():
    pred, gt, valid = (torch.from_numpy(a) for a in _maps(1))
    full = _silog_numpy(*(t.numpy() for t in (pred, gt, valid)))
    mean_only = _silog_numpy(*(t.numpy() for t in (pred, gt, valid)), mean_only=True)
    loss = ScaleInvariantLogLoss(warm_up_iters=3)
    seen = [float(loss.eval()(pred, gt, valid))]  # evaluation neither warms up nor counts
    seen += [float(loss.train()(pred, gt, valid)) for _ in range(2)]
    resumed = ScaleInvariantLogLoss(warm_up_iters=3)
    resumed.load_state_dict(loss.state_dict())  # the count travels in the checkpoint
    seen += [float(resumed(pred, gt, valid)) for _ in range(2)]
    np.testing.assert_allclose(seen, [full, mean_only, mean_only, mean_only, full], rtol=1e-6)
    assert int(resumed.calls) == 4


def test_head_loss_on_labels_leaves_padding_and_out_of_range_out():
    pred, gt, valid = _maps(2, shape=(2, 1, 16, 20))
    coarse = torch.rand(2, 1, 8, 10) * 5 + 1
    samples = [SegDataSample(gt_depth_map=PixelData(data=torch.from_numpy(g).float()))
               for g in gt]
    head = LinearDepthHead(in_channels=[8]).train()
    losses = head.loss_by_feat(coarse, samples)
    up = F.interpolate(coarse, size=(16, 20), mode='bilinear', align_corners=False).numpy()
    assert set(losses) == {'loss_silog', 'loss_grad'}
    np.testing.assert_allclose(float(losses['loss_silog']),
                               _silog_numpy(up, gt, valid, mean_only=True), rtol=1e-5)
    np.testing.assert_allclose(float(losses['loss_grad']),
                               0.5 * _gradient_numpy(up, gt, valid), rtol=1e-5)


def _leaf(name: str, method: str) -> str:
    return osp.join(FOLDER, name.format(method) + '_38k_nyu.py')


def test_recipe(monkeypatch):
    monkeypatch.delenv('NYU_ROOT', raising=False)
    cfg = Config.fromfile(_leaf('depthlinear_{}-vitb16', 'ijepa'))
    model, bb, head = cfg.model, cfg.model.backbone, cfg.model.decode_head
    assert (model.type, bb.type, bb.arch, bb.patch_size, bb.img_size) == \
        ('DepthEstimator', 'JEPAViT', 'b', 16, 224)
    # frozen whole, blocks read without the final norm (the hub's released heads)
    assert (bb.frozen_stages, bb.norm_last, bb.out_indices, bb.init_cfg.encoder) == \
        (12, False, (11,), 'target')
    assert (head.type, head.in_channels, head.token, head.upsample, head.n_bins) == \
        ('LinearDepthHead', [768], None, 4, 256)
    assert (head.min_depth, head.max_depth) == (1e-3, 10.0)  # 10 m, not the hub's 80
    silog, grad = head.loss_decode
    assert (silog.type, silog.variance_focus, silog.warm_up_iters) == \
        ('ScaleInvariantLogLoss', 0.15, 100)
    assert (grad.type, grad.loss_weight) == ('LogDepthGradientLoss', 0.5)
    pre = model.data_preprocessor
    assert (pre.seg_pad_val, pre.size_divisor, pre.test_cfg.size_divisor, pre.bgr_to_rgb) == \
        (0, 16, 16, True)
    assert model.test_cfg == dict(mode='slide_flip', crop_size=(480, 640), stride=(480, 640))

    assert (cfg.train_cfg.type, cfg.train_cfg.max_iters) == ('IterBasedTrainLoop', 38400)
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    opt = cfg.optim_wrapper
    assert (opt.type, opt.dtype, opt.optimizer.type, opt.optimizer.lr) == \
        ('AmpOptimWrapper', 'bfloat16', 'AdamW', 5e-3)
    assert (opt.optimizer.weight_decay, opt.clip_grad.max_norm) == (0.01, 35)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 12800)
    assert (cosine.type, cosine.begin, cosine.end, cosine.eta_min) == \
        ('CosineAnnealingLR', 12800, 38400, 0.0)
    assert 'save_best' not in cfg.default_hooks.checkpoint  # it would select on the test split
    assert cfg.default_scope == 'mmseg'
    assert {'transfer.linear_depth_head', 'transfer.nyu'} <= set(cfg.custom_imports.imports)
    assert cfg.report == dict(
        task='NYU-Depth v2 linear', metrics={'nyu/rmse': ('RMSE', 1), 'nyu/abs_rel': ('abs rel', 1),
                                             'nyu/d1': ('delta1', 100)},
        lower_is_better=('RMSE', 'abs rel'), decimals={'RMSE': 3, 'abs rel': 3}, protocol=None,
        selection='last iteration, no selection', input_size=(480, 640))


def _check_leaf(cfg: Config, method: str, task: str, blocks: tuple, token) -> None:
    bb, head = cfg.model.backbone, cfg.model.decode_head
    width, depth = (768, 12) if bb.arch == 'b' else (1280, 32)
    assert cfg.report.task == task and cfg.pretrain_method == method
    assert tuple(i + 1 for i in bb.out_indices) == blocks
    assert (bb.frozen_stages, bb.norm_last, bb.use_cls_token) == (depth, False, method == 'dseq')
    assert head.in_channels == [width] * len(blocks)
    assert head.token == (TOKEN[method] if token else None)
    assert bool(bb.get('with_prefix_tokens')) == (head.token == 'cls')
    assert cfg.optim_wrapper.paramwise_cfg.num_layers == depth


@pytest.mark.parametrize('method', ['ijepa', 'dseq'])
@pytest.mark.parametrize('name', [n for n in LEAVES if 'vitb16' in n])
def test_every_vitb16_leaf_loads_and_builds(name, method):
    cfg = Config.fromfile(_leaf(name, method))
    _check_leaf(cfg, method, *LEAVES[name])
    assert cfg.model.backbone.init_cfg.checkpoint == f'checkpoints/{method}_vitb16_in1k.pth'
    model = mmseg_model(cfg)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    width = model.decode_head.conv_depth.in_channels
    assert width == 768 * len(LEAVES[name][1]) * (2 if LEAVES[name][2] else 1)


@pytest.mark.parametrize('method', ['ijepa', 'dseq'])
@pytest.mark.parametrize('name', [n for n in LEAVES if 'vith14' in n])
def test_every_vith14_leaf_reads_whole_patches(name, method, monkeypatch):
    """The ViT-H/14 leaves' values: a real ViT-H is too slow to build here."""
    for env in ('IJEPA_VITH14', 'DSEQ_VITH14'):
        monkeypatch.delenv(env, raising=False)
    cfg = Config.fromfile(_leaf(name, method))
    _check_leaf(cfg, method, *LEAVES[name])
    pre, bb = cfg.model.data_preprocessor, cfg.model.backbone
    assert (bb.arch, bb.patch_size, bb.img_size) == ('h', 14, 224)
    assert (pre.size_divisor, pre.test_cfg.size_divisor, pre.seg_pad_val) == (14, 14, 0)
    # one window covering the frame padded to whole patches
    assert cfg.model.test_cfg.crop_size == (490, 644) == cfg.report.input_size
    assert bb.init_cfg.checkpoint == dict(ijepa='checkpoints/IN1K-vit.h.14-300e.pth.tar',
                                          dseq='checkpoints/dseq_vith14.pth.tar')[method]


def test_patch14_pads_crops_and_frames_and_cuts_the_padding():
    """The ViT-H/14 model with its encoder narrowed: 416x544 crops and their depth padded to
    420x546 (depth 0, outside the loss), 480x640 frames read at 490x644 and predicted at 480x640."""
    cfg = Config.fromfile(_leaf('depthlinear_{}-vith14', 'ijepa'))
    cfg.model.backbone.update(embed_dim=16, num_heads=1, depth=2, out_indices=(1,),
                              frozen_stages=2, init_cfg=None)
    cfg.model.decode_head.in_channels = [16]
    torch.manual_seed(0)
    model = mmseg_model(cfg)
    sample = SegDataSample(gt_depth_map=PixelData(data=torch.full((1, 416, 544), 2.0)),
                           metainfo=dict(img_shape=(416, 544), ori_shape=(416, 544)))
    batch = model.data_preprocessor(dict(inputs=[torch.zeros(3, 416, 544, dtype=torch.uint8)],
                                         data_samples=[sample]), True)
    assert batch['inputs'].shape[-2:] == (420, 546)
    padded = batch['data_samples'][0].gt_depth_map.data
    assert padded.shape[-2:] == (420, 546) and (padded[..., 416:, :] == 0).all()
    assert (padded[..., 544:] == 0).all() and (padded[..., :416, :544] == 2).all()
    frame = _frame()
    with torch.no_grad():
        (pred,) = model.eval().test_step(frame)
        # by hand: the frame normalised and padded bottom/right to 490x644, its depth and its
        # mirror's mirrored back, averaged, the padding cut at the bottom and right
        mean, std = (torch.tensor(v).view(3, 1, 1) for v in (cfg.data_preprocessor.mean,
                                                             cfg.data_preprocessor.std))
        x = F.pad((frame['inputs'][0].flip(0).float() - mean) / std, (0, 4, 0, 10))[None]
        metas = [dict(img_shape=(490, 644), ori_shape=(480, 640))]
        depth = (model.encode_decode(x, metas) +
                 model.encode_decode(x.flip(3), metas).flip(3)) / 2
    assert torch.allclose(pred.pred_depth_map.data, depth[0, :, :480, :640], atol=1e-5)


def _frame() -> dict:
    """A random 480x640 frame as mmseg's test step takes it."""
    image = torch.randint(0, 256, (3, 480, 640), dtype=torch.uint8)
    return dict(inputs=[image],
                data_samples=[SegDataSample(metainfo=dict(ori_shape=(480, 640),
                                                          img_shape=(480, 640)))])


def test_test_time_flip_averages_one_whole_window():
    """'slide_flip' with the image-sized window: the mean of the image's depth and its mirror's
    mirrored, upsampled to the frame."""
    cfg = Config.fromfile(_leaf('depthlinear_{}-vitb16', 'dseq'))
    cfg.model.backbone.update(embed_dim=32, num_heads=2, init_cfg=None)
    cfg.model.decode_head.in_channels = [32]
    torch.manual_seed(0)
    model = mmseg_model(cfg).eval()
    frame = _frame()
    with torch.no_grad():
        (pred,) = model.test_step(frame)
        x = model.data_preprocessor(_frame() | dict(inputs=frame['inputs']), False)['inputs']
        depth = model.decode_head(model.backbone(x))
        mirrored = model.decode_head(model.backbone(x.flip(3))).flip(3)
        expected = F.interpolate((depth + mirrored) / 2, size=(480, 640), mode='bilinear')
    torch.testing.assert_close(pred.pred_depth_map.data, expected[0])


@pytest.fixture(scope='module')
def synthetic_nyu(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('synthetic_nyu'))
    make_nyu(root, num_train=16, num_val=4, seed=0)
    return root


@pytest.mark.slow
def test_training_fits_the_head_alone_and_logs_depth_metrics(synthetic_nyu, tmp_path):
    """tools/train.py --test of the tiny config from a written encoder checkpoint: the loss falls
    after its warm-up, the depth metrics are logged with per-image records, and the checkpoint
    holds the encoder bit for bit as loaded (and the warm-up count)."""
    smoke = SMOKE.format('dseq')
    cfg = Config.fromfile(smoke)
    work, encoder = train_from_written_encoder(smoke, tmp_path,
                                               dict(os.environ, SYNTH_NYU_ROOT=synthetic_nyu))

    rows = logged_scalars(work)
    warm = cfg.model.decode_head.loss_decode[0].warm_up_iters
    losses = [r['loss'] for r in rows if 'loss' in r and r['step'] >= 2 * warm]
    assert all(math.isfinite(v) for v in losses) and len(losses) >= 6
    assert np.mean(losses[-2:]) < 0.9 * losses[0]
    (val,) = [r for r in rows if 'nyu/rmse' in r]
    assert val['step'] == cfg.max_iters
    assert 0 < val['nyu/rmse'] < 3 and 0 < val['nyu/abs_rel'] < 1 and 0 < val['nyu/d1'] <= 1
    tested = metrics_of_test_run(work)
    assert all(tested[k] == val[k] for k in cfg.report.metrics)
    from suite.results import run_records
    for run in sorted(osp.dirname(p) for p in glob.glob(osp.join(work, '*', 'vis_data'))):
        records = run_records(run)
        assert all(records[k].value == val[k] for k in cfg.report.metrics)
        assert len(records['nyu/rmse'].keys) == 4

    saved = assert_encoder_kept(osp.join(work, f'iter_{cfg.max_iters}.pth'), encoder)
    assert int(saved['decode_head.loss_decode.0.calls']) == cfg.max_iters
