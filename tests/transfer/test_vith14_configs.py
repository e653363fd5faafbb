"""The ViT-H/14 transfer configs: each is its ViT-B/16 counterpart on the ViT-H/14 encoder (dense
tasks: blocks 7/15/23/31 and patch 14 against their input sizes), its checkpoint from
IJEPA_VITH14 / DSEQ_VITH14; the patch-14 Mask R-CNN's anchors and RoIs on strides 3.5..56, and
the model running on CPU with the encoder shrunk. No test builds a real ViT-H (632M parameters)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import backbones  # noqa: F401  (registers JEPAViT and SimpleFeaturePyramid, as custom_imports do)
from tests.helpers import ROOT, config_differences

FOLDERS = ('maskrcnn', 'upernet', 'clevr', 'linear', 'knn')
VITH = sorted(p for f in FOLDERS for p in glob.glob(osp.join(ROOT, 'configs', f, '*vith14*.py')))
DEFAULTS = dict(ijepa='checkpoints/IN1K-vit.h.14-300e.pth.tar',
                dseq='checkpoints/dseq_vith14.pth.tar')
ENV = dict(ijepa='IJEPA_VITH14', dseq='DSEQ_VITH14')
DENSE_BLOCKS = (7, 15, 23, 31)
MASKRCNN = {m: osp.join(ROOT, 'configs', 'maskrcnn', f'maskrcnn_{m}-vith14_25e_coco.py')
            for m in ('ijepa', 'dseq')}
MASKRCNN_B = osp.join(ROOT, 'configs', 'maskrcnn', 'maskrcnn_ijepa-vitb16_25e_coco.py')
UPERNET = osp.join(ROOT, 'configs', 'upernet', 'upernet_dseq-vith14_160k_ade20k.py')
# what the encoder swap changes in a config: the table it reads and the backbone keys it sets
ENCODER_KEYS = {'model.backbone.arch', 'model.backbone.patch_size',
                'model.backbone.init_cfg.checkpoint'}


def _method(path: str) -> str:
    return osp.basename(path).split('_')[1].split('-')[0]


def _vitb(path: str) -> str:
    return path.replace('vith14', 'vitb16')


def _beyond_encoder(path_a: str, path_b: str) -> set:
    return {k for k in config_differences(path_a, path_b)
            if not k.startswith(('pretrained', 'vith14'))}


@pytest.fixture
def no_checkpoint_env(monkeypatch):
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)


def test_both_methods_on_every_task():
    names = {osp.relpath(p, osp.join(ROOT, 'configs')) for p in VITH}
    tasks = (['maskrcnn/maskrcnn_{}-vith14_25e_coco.py', 'upernet/upernet_{}-vith14_160k_ade20k.py']
             + [f'clevr/linear_{{}}-vith14_100e_clevr-{t}.py' for t in ('count', 'dist')]
             + [f'linear/linear_{{}}-vith14_28e_{d}.py' for d in ('in1k', 'inat21', 'cub', 'cars')]
             + ['linear/linear_{}-vith14_fast_in1k.py', 'knn/knn_{}-vith14_bank10_in1k.py']
             + [f'knn/knn_{{}}-vith14_{d}.py' for d in ('in1k', 'inat21', 'cub', 'cars')])
    assert names == {t.format(m) for t in tasks for m in ('ijepa', 'dseq')}
    assert all(osp.isfile(_vitb(p)) for p in VITH)  # each has its ViT-B/16 counterpart


@pytest.mark.parametrize('path', VITH, ids=osp.basename)
def test_encoder_is_the_pretrained_vith14(path, no_checkpoint_env):
    cfg = Config.fromfile(path)
    method, bb = _method(path), cfg.model.backbone
    assert cfg.pretrain_method == method
    assert (bb.type, bb.arch, bb.patch_size) == ('JEPAViT', 'h', 14)
    # the leaderboard names the size from arch: no width or depth of its own
    assert not {'embed_dim', 'depth', 'num_heads'} & set(bb)
    assert bb.img_size == 224  # the pretraining grid, 16x16, whatever the task's input
    assert bb.use_cls_token == (method == 'dseq')
    assert bb.init_cfg == dict(type='Pretrained', checkpoint=DEFAULTS[method], encoder='target')
    assert cfg.pretrained[method] == dict(use_cls_token=bb.use_cls_token, init_cfg=bb.init_cfg)
    if path not in MASKRCNN.values() and 'upernet' not in path:
        # a probe or kNN: its ViT-B/16 counterpart with the encoder swapped, nothing else
        assert _beyond_encoder(path, _vitb(path)) == ENCODER_KEYS


@pytest.mark.parametrize('path', [p for p in VITH if _method(p) == 'dseq'], ids=osp.basename)
def test_the_two_methods_differ_where_they_differ_for_vitb(path):
    ijepa = path.replace('_dseq-', '_ijepa-')
    assert config_differences(path, ijepa) == config_differences(_vitb(path), _vitb(ijepa))


@pytest.mark.parametrize('method', ['ijepa', 'dseq'])
def test_checkpoints_come_from_the_environment_or_cfg_options(method, monkeypatch, tmp_path):
    other = 'dseq' if method == 'ijepa' else 'ijepa'
    monkeypatch.setenv(ENV[method], str(tmp_path / 'weights.pth.tar'))
    monkeypatch.delenv(ENV[other], raising=False)
    for path in [p for p in VITH if _method(p) == method]:
        cfg = Config.fromfile(path)
        assert cfg.model.backbone.init_cfg.checkpoint == str(tmp_path / 'weights.pth.tar'), path
        assert cfg.pretrained[other].init_cfg.checkpoint == DEFAULTS[other]
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': 'elsewhere.pth'})
    assert cfg.model.backbone.init_cfg.checkpoint == 'elsewhere.pth'


def test_maskrcnn_recipe(no_checkpoint_env):
    cfg = Config.fromfile(MASKRCNN['dseq'])
    bb = cfg.model.backbone
    assert tuple(bb.out_indices) == DENSE_BLOCKS and 'global_blocks' not in bb  # = out_indices
    assert (bb.window_size, bb.drop_path_rate, bb.with_cp) == (14, 0.1, True)
    assert cfg.model.neck.in_channels == [1280] * 4
    assert cfg.model.neck.scale_factors == (4.0, 2.0, 1.0, 0.5)
    # 1024 pads to 1036 = 74 x 14: an even token grid, which the 0.5x level halves exactly
    divisor = cfg.model.data_preprocessor.pad_size_divisor
    assert divisor == 28 and -(-1024 // divisor) * divisor == 1036 == cfg.report.input_size[0]
    assert cfg.train_pipeline[2].scale == (1024, 1024)
    opt = cfg.optim_wrapper
    assert (opt.type, opt.dtype) == ('AmpOptimWrapper', 'bfloat16')
    assert (opt.paramwise_cfg.num_layers, opt.paramwise_cfg.decay_rate) == (32, 1.0)
    assert cfg.train_cfg.max_epochs == 25
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    # what it states beyond the ViT-B recipe
    assert _beyond_encoder(MASKRCNN['ijepa'], MASKRCNN_B) == ENCODER_KEYS | {
        'model.backbone.out_indices', 'model.data_preprocessor.pad_size_divisor',
        'model.neck.in_channels', 'model.rpn_head.anchor_generator.strides',
        'model.rpn_head.anchor_generator.base_sizes',
        'model.roi_head.bbox_roi_extractor.featmap_strides',
        'model.roi_head.mask_roi_extractor.featmap_strides',
        'optim_wrapper.paramwise_cfg.num_layers', 'report.input_size'}


def test_upernet_recipe(no_checkpoint_env):
    cfg = Config.fromfile(UPERNET)
    model = cfg.model
    bb = model.backbone
    assert tuple(bb.out_indices) == DENSE_BLOCKS and bb.window_size == 0  # global attention
    assert (bb.drop_path_rate, bb.with_cp) == (0.1, True)
    assert (model.neck.embed_dim, model.neck.rescales) == (1280, [4, 2, 1, 0.5])
    assert (model.decode_head.in_channels, model.auxiliary_head.in_channels) == ([1280] * 4, 1280)
    # 504 = 36 x 14 crops and slide windows, the stride kept; test images padded to whole patches
    (crop,) = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert crop.crop_size == model.data_preprocessor.size == (504, 504)
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert model.test_cfg == dict(mode='slide', crop_size=(504, 504), stride=(341, 341))
    assert model.data_preprocessor.test_cfg.size_divisor == 14
    assert cfg.report.input_size == (504, 504)
    opt = cfg.optim_wrapper
    assert (opt.dtype, opt.paramwise_cfg.num_layers, opt.paramwise_cfg.decay_rate) == \
        ('bfloat16', 32, 1.0)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16


@pytest.mark.parametrize('path', [MASKRCNN['ijepa'], UPERNET], ids=osp.basename)
def test_dense_encoder_is_global_at_blocks_7_15_23_31(path):
    """The configs' backbone at full depth, narrowed to 16 channels."""
    cfg = Config.fromfile(path).model.backbone
    cfg.update(embed_dim=16, num_heads=2, with_cp=False, init_cfg=None)
    vit = backbones.JEPAViT(**{k: v for k, v in cfg.items() if k != 'type'})
    assert len(vit.blocks) == 32
    assert [i for i, blk in enumerate(vit.blocks) if blk.window_size == 0] == \
        (list(DENSE_BLOCKS) if 'maskrcnn' in path else list(range(32)))


# ---------------------------------------------------------------- the patch-14 Mask R-CNN

@pytest.fixture
def mmdet_scope():
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def test_anchors_keep_vitb_sizes_on_the_3p5_pixel_grid(mmdet_scope):
    from mmdet.registry import TASK_UTILS
    vith, vitb = (TASK_UTILS.build(Config.fromfile(p).model.rpn_head.anchor_generator)
                  for p in (MASKRCNN['ijepa'], MASKRCNN_B))
    assert [s[0] for s in vith.strides] == [3.5, 7.0, 14.0, 28.0, 56.0]
    for h, b in zip(vith.base_anchors, vitb.base_anchors):
        assert torch.equal(h, b)  # the same sizes and shapes, 32 to 512 pixels
    assert [round(float(a[1, 2] - a[1, 0])) for a in vith.base_anchors] == [32, 64, 128, 256, 512]
    rows, cols = 3, 4
    for level, stride in enumerate([3.5, 7.0, 14.0, 28.0, 56.0]):
        priors = vith.single_level_grid_priors((rows, cols), level, device='cpu')
        centres = ((priors[:, :2] + priors[:, 2:]) / 2).view(rows, cols, -1, 2)
        grid = torch.stack(torch.meshgrid(torch.arange(cols) * stride, torch.arange(rows) * stride,
                                          indexing='xy'), dim=-1)
        assert torch.allclose(centres, grid[:, :, None].expand_as(centres))


def test_roi_align_reads_the_3p5_pixel_maps_where_the_rois_are(mmdet_scope):
    """Maps holding each cell's pixel x-coordinate ((c + 0.5) x stride, RoIAlign's aligned grid):
    an RoI's pooled values average to its centre, whichever level serves it."""
    from mmdet.registry import MODELS
    extractor = MODELS.build(Config.fromfile(MASKRCNN['ijepa']).model.roi_head.bbox_roi_extractor)
    side = 448
    feats = tuple((torch.arange(int(side / s)) + 0.5).mul(s).expand(1, 256, int(side / s), -1)
                  .contiguous() for s in extractor.featmap_strides)
    rois = torch.tensor([[0., 101.5, 40., 121.5, 60.], [0., 50., 30., 370., 350.]])
    assert extractor.map_roi_levels(rois, len(feats)).tolist() == [0, 2]  # strides 3.5 and 14
    pooled = extractor(feats, rois)
    assert torch.allclose(pooled.mean(dim=(1, 2, 3)), (rois[:, 1] + rois[:, 3]) / 2, atol=1e-3)


def test_shrunk_patch14_maskrcnn_trains_and_predicts_on_cpu(mmdet_scope):
    """The patch-14 config with the encoder shrunk (and windows of 5, so the 12x16 grid pads them)
    and narrow heads: a 2-image batch padded to 168x224, levels at 3.5..56 pixels."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    cfg = Config.fromfile(MASKRCNN['dseq'])
    width, channels = 64, 64
    cfg.merge_from_dict({
        'model.backbone': dict(embed_dim=width, depth=4, num_heads=4, out_indices=(0, 1, 2, 3),
                               global_blocks=(3,), window_size=5, init_cfg=dict(checkpoint=None)),
        'model.neck': dict(in_channels=[width] * 4, out_channels=channels),
        'model.rpn_head': dict(in_channels=channels, feat_channels=channels),
        'model.roi_head': dict(
            bbox_roi_extractor=dict(out_channels=channels),
            bbox_head=dict(in_channels=channels, fc_out_channels=128, num_classes=3),
            mask_roi_extractor=dict(out_channels=channels),
            mask_head=dict(in_channels=channels, conv_out_channels=channels, num_classes=3)),
        'model.train_cfg.rcnn.sampler.num': 64})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # no init_weights: nothing to load, torch's init will do
    data = demo_mm_inputs(2, [(3, 150, 200), (3, 130, 180)], num_items=[3, 2], num_classes=3,
                          with_mask=True)
    batch = model.data_preprocessor(data, training=True)
    assert tuple(batch['inputs'].shape[-2:]) == (168, 224)  # 6 x 28 by 8 x 28
    feats = model.extract_feat(batch['inputs'])
    assert [tuple(f.shape[-2:]) for f in feats] == [(48, 64), (24, 32), (12, 16), (6, 8), (3, 4)]
    model.train()
    total, logged = model.parse_losses(model.loss(batch['inputs'], batch['data_samples']))
    assert torch.isfinite(total) and {'loss_rpn_cls', 'loss_cls', 'loss_mask'} <= set(logged)
    total.backward()
    assert model.backbone.patch_embed.proj.weight.grad is not None

    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(data, training=False)
        results = model.predict(batch['inputs'], batch['data_samples'])
    for result, (h, w) in zip(results, [(150, 200), (130, 180)]):
        pred = result.pred_instances
        assert pred.bboxes.shape[1] == 4 and len(pred.bboxes) == len(pred.scores)
        assert tuple(pred.masks.shape[1:]) == (h, w)


def test_shrunk_upernet_slides_504_windows_over_a_padded_image():
    """The ViT-H UperNet with the encoder and heads shrunk: a 512x700 image is padded to 518x700
    (whole patches of 14), then read by four 504x504 windows (36x36 tokens each) at stride 341;
    the prediction comes back at the image's size."""
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(UPERNET)
    width = 64
    cfg.merge_from_dict({
        'model.backbone': dict(embed_dim=width, depth=4, num_heads=4, out_indices=(0, 1, 2, 3),
                               with_cp=False, init_cfg=dict(checkpoint=None)),
        'model.neck.embed_dim': width,
        'model.decode_head': dict(in_channels=[width] * 4, channels=32),
        'model.auxiliary_head': dict(in_channels=width, channels=16)})
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
    windows = []
    model.backbone.register_forward_pre_hook(lambda m, args: windows.append(args[0].shape[-2:]))
    image = torch.randint(0, 256, (3, 512, 700), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(ori_shape=(512, 700), img_shape=(512, 700)))
    with torch.no_grad():
        (pred,) = model.test_step(dict(inputs=[image], data_samples=[sample]))
    assert [tuple(w) for w in windows] == [(504, 504)] * 4
    assert pred.pred_sem_seg.data.shape == (1, 512, 700)
