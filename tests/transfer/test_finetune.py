"""Full fine-tuning on ImageNet-1k (SPEC section 4d: MAE's recipe, and I-JEPA's own for the ViT-H
rows) and I-JEPA's 1% low-shot fine-tuning (section 4e): the recipes as the configs build them,
timm's augmentation, mixing and losses, the pooled readouts, the layer-wise lr decay against
timm's, the lr schedule against MAE's formula, and a smoke run through the tools."""
import math
import os
import os.path as osp
import random
from collections import namedtuple

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS
from PIL import Image
from timm.data import Mixup, create_transform
from timm.data.auto_augment import AugmentOp, RandAugment
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import param_groups_layer_decay

import backbones  # noqa: F401  (registers JEPAViT)
from backbones.layer_decay import ViTLayerDecayOptimWrapperConstructor
from suite.results import run_records
from tests.helpers import ROOT, metrics_of_test_run, run_tool
from transfer.classification_transforms import PackTimmInputs
from transfer.finetune import FineTuneClassifier

FINETUNE = osp.join(ROOT, 'configs', 'finetune')
LOWSHOT = osp.join(ROOT, 'configs', 'lowshot')
MIXUP = dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch',
             label_smoothing=0.1)
TIMM_TRAIN = dict(input_size=224, is_training=True, auto_augment='rand-m9-mstd0.5-inc1',
                  interpolation='bicubic', re_prob=0.25, re_mode='pixel', re_count=1,
                  color_jitter=None)
TIMM_TEST = dict(input_size=224, is_training=False, interpolation='bicubic', crop_pct=0.875)
# A full fine-tuning recipe as SPEC section 4d gives it: lr is the actual peak lr, batch the
# effective one (8 GPUs x per GPU x accumulation)
Recipe = namedtuple(
    'Recipe', 'arch patch epochs lr batch weight_decay layer_decay drop_path blocks')
# MAE's (mae FINETUNE.md): lr = base lr x 1024 / 256
MAE_B = Recipe('b', 16, 100, 5e-4 * 1024 / 256, 1024, 0.05, 0.65, 0.1, 12)
MAE_H = Recipe('h', 14, 50, 1e-3 * 1024 / 256, 1024, 0.05, 0.75, 0.3, 32)
# I-JEPA's own (I-JEPA paper Appendix D): base lr 1e-4 as stated, not scaled by batch (the paper
# does not say it is)
IJEPA_H = Recipe('h', 14, 50, 1e-4, 528, 0.04, 0.75, 0.25, 32)
FT_TASK = 'ImageNet-1k fine-tune'
# config: (recipe, pooling, report task); the ViT-H rows take I-JEPA's recipe, MAE's is a variant
# with its own task, as is the CLS head, so that no two recipes' results share a row
FULL_RECIPES = {
    'finetune_ijepa-vitb16_100e_in1k.py': (MAE_B, 'avg', FT_TASK),
    'finetune_dseq-vitb16_100e_in1k.py': (MAE_B, 'avg', FT_TASK),
    'finetune-cls_dseq-vitb16_100e_in1k.py': (MAE_B, 'cls', f'{FT_TASK} (CLS head)'),
    'finetune_ijepa-vith14_50e_in1k.py': (IJEPA_H, 'avg', FT_TASK),
    'finetune_dseq-vith14_50e_in1k.py': (IJEPA_H, 'avg', FT_TASK),
    'finetune-mae_ijepa-vith14_50e_in1k.py': (MAE_H, 'avg', f'{FT_TASK} (MAE H recipe)'),
    'finetune-mae_dseq-vith14_50e_in1k.py': (MAE_H, 'avg', f'{FT_TASK} (MAE H recipe)'),
}
# (config, arch, weight decay, blocks): ViT-B takes ViT-L/16's 3e-5 / 0.05
LOWSHOT_RECIPES = {
    'finetune_ijepa-vitb16_50e_in1k-1pct.py': ('b', 0.05, 12),
    'finetune_dseq-vitb16_50e_in1k-1pct.py': ('b', 0.05, 12),
    'finetune_ijepa-vith14_50e_in1k-1pct.py': ('h', 0.4, 32),
    'finetune_dseq-vith14_50e_in1k-1pct.py': ('h', 0.4, 32),
}
TINY = dict(type='JEPAViT', arch='b', embed_dim=32, depth=4, num_heads=2, img_size=32,
            patch_size=16, pos_embed='learned', use_cls_token=True)


def method_of(name: str) -> str:
    return 'dseq' if '_dseq-' in name else 'ijepa'


def effective_batch(cfg: Config, gpus: int = 8) -> int:
    return gpus * cfg.train_dataloader.batch_size * cfg.optim_wrapper.accumulative_counts


def check_common_schedule(cfg: Config, epochs: int) -> None:
    """What every ImageNet fine-tuning config shares: AdamW, bf16 without loss scaling, no
    clipping, 5 warm-up epochs then cosine to 1e-6, no validation, a checkpoint every epoch."""
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, tuple(opt.betas)) == ('AdamW', (0.9, 0.999))
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype, cfg.optim_wrapper.loss_scale) == \
        ('AmpOptimWrapper', 'bfloat16', 1.0)
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert cfg.optim_wrapper.constructor == 'ViTLayerDecayOptimWrapperConstructor'
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs) == ('EpochBasedTrainLoop', epochs)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.convert_to_iter_based) == \
        ('LinearLR', 0, 5, True)
    assert warmup.start_factor <= 1e-9
    assert (cosine.type, cosine.begin, cosine.convert_to_iter_based) == \
        ('CosineAnnealingLR', 5, True)
    assert cosine.get('end') is None  # to the end of training
    assert cosine.eta_min_ratio * opt.lr == pytest.approx(1e-6)
    assert cfg.get('val_dataloader') is None and cfg.get('val_cfg') is None
    assert cfg.test_cfg.type == 'TestLoop'
    hook = cfg.default_hooks.checkpoint
    assert hook.interval == 1 and 'save_best' not in hook
    assert cfg.test_dataloader.dataset.split == 'val'
    assert cfg.test_dataloader.dataset.pipeline[-1] == dict(type='PackTimmInputs', **TIMM_TEST)
    assert cfg.test_evaluator == dict(type='ProbeAccuracy', prefix='accuracy')


def check_backbone(cfg: Config, name: str, arch: str, patch: int) -> None:
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.patch_size, backbone.img_size) == (arch, patch, 224)
    assert backbone.pos_embed == 'learned'  # fine-tuned, as timm's ViT has it in MAE
    assert backbone.use_cls_token == (method_of(name) == 'dseq')
    # the method's target encoder of its size (../_base_/pretrained/)
    assert cfg.pretrain_method == method_of(name)
    assert backbone.init_cfg == cfg.pretrained[method_of(name)].init_cfg
    assert backbone.init_cfg.encoder == 'target'


@pytest.mark.parametrize('name', sorted(FULL_RECIPES))
def test_full_finetuning_recipe_as_the_configs_build_it(name):
    recipe, pooling, task = FULL_RECIPES[name]
    cfg = Config.fromfile(osp.join(FINETUNE, name))
    check_common_schedule(cfg, recipe.epochs)
    check_backbone(cfg, name, recipe.arch, recipe.patch)
    assert effective_batch(cfg) == recipe.batch
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(recipe.lr)
    assert cfg.optim_wrapper.optimizer.weight_decay == recipe.weight_decay
    assert dict(cfg.optim_wrapper.paramwise_cfg) == \
        dict(num_layers=recipe.blocks, decay_rate=recipe.layer_decay)
    model = cfg.model
    assert (model.type, model.num_classes, model.pooling) == \
        ('FineTuneClassifier', 1000, pooling)
    assert model.backbone.drop_path_rate == recipe.drop_path
    assert dict(model.mixup) == MIXUP and model.label_smoothing == 0.1
    train = cfg.train_dataloader
    assert train.drop_last and train.batch_size % 2 == 0  # timm's Mixup needs even batches
    assert train.dataset.split == 'train'
    assert train.dataset.pipeline[-1] == dict(type='PackTimmInputs', **TIMM_TRAIN)
    assert (cfg.report.task, cfg.report.protocol) == (task, f'top-1 {pooling}')
    assert dict(cfg.report.metrics) == {f'accuracy/top1_{pooling}': (f'top-1 {pooling}', 1)}


def test_maes_vith_recipe_differs_from_ijepas_in_lr_batch_drop_path_and_weight_decay():
    """SPEC section 4d: the two ViT-H recipes differ in these alone (and in the report's row)."""
    from tests.helpers import config_differences
    for method in ('ijepa', 'dseq'):
        assert config_differences(
            osp.join(FINETUNE, f'finetune_{method}-vith14_50e_in1k.py'),
            osp.join(FINETUNE, f'finetune-mae_{method}-vith14_50e_in1k.py')) == {
                'base_lr', 'lr', 'batch_size', 'optim_wrapper.optimizer.lr', 'param_scheduler',
                'train_dataloader.batch_size', 'optim_wrapper.accumulative_counts',
                'model.backbone.drop_path_rate', 'optim_wrapper.optimizer.weight_decay',
                'report.task'}


@pytest.mark.parametrize('name', sorted(LOWSHOT_RECIPES))
def test_lowshot_recipe_as_the_configs_build_it(name):
    arch, weight_decay, blocks = LOWSHOT_RECIPES[name]
    cfg = Config.fromfile(osp.join(LOWSHOT, name))
    check_common_schedule(cfg, 50)
    check_backbone(cfg, name, arch, 16 if arch == 'b' else 14)
    assert effective_batch(cfg) == 512
    assert cfg.optim_wrapper.optimizer.lr == 3e-5  # as the paper states it, not rescaled
    assert cfg.optim_wrapper.optimizer.weight_decay == weight_decay
    assert dict(cfg.optim_wrapper.paramwise_cfg) == dict(num_layers=blocks, decay_rate=0.75)
    model = cfg.model
    assert (model.pooling, model.mixup, model.label_smoothing) == ('avg', None, 0.1)
    assert model.backbone.drop_path_rate == 0.0
    subset = cfg.train_dataloader.dataset
    assert subset.type == 'ImageSubset' and subset.dataset.split == 'train'
    assert subset.subset_file.endswith('1percent.txt')
    # RandAugment without random erasing
    no_erasing = dict(TIMM_TRAIN, re_prob=0.0)
    assert subset.dataset.pipeline[-1] == dict(type='PackTimmInputs', **no_erasing)
    assert (cfg.report.task, cfg.report.protocol) == ('ImageNet-1k 1% fine-tune', 'top-1 avg')


def test_each_vith_lowshot_config_is_its_vitb_one_with_the_vith_encoder_and_weight_decay():
    """The 1% split, augmentation, head and schedule come from the ViT-B/16 config (SPEC section
    4e): only the encoder, its block count and the weight decay (0.4) differ."""
    from tests.helpers import config_differences
    for method in ('ijepa', 'dseq'):
        differences = config_differences(
            osp.join(LOWSHOT, f'finetune_{method}-vitb16_50e_in1k-1pct.py'),
            osp.join(LOWSHOT, f'finetune_{method}-vith14_50e_in1k-1pct.py'))
        # the weight tables themselves (../_base_/pretrained/) aside
        assert {k for k in differences if not k.startswith(('pretrained', 'vith14.'))} == {
            'model.backbone.arch', 'model.backbone.patch_size',
            'model.backbone.init_cfg.checkpoint', 'optim_wrapper.paramwise_cfg.num_layers',
            'optim_wrapper.optimizer.weight_decay'}


def test_each_dseq_config_is_its_ijepa_config_with_dseq_weights():
    from tests.helpers import config_differences
    for folder, name in [(FINETUNE, 'finetune_{}-vitb16_100e_in1k.py'),
                         (FINETUNE, 'finetune_{}-vith14_50e_in1k.py'),
                         (FINETUNE, 'finetune-mae_{}-vith14_50e_in1k.py'),
                         (LOWSHOT, 'finetune_{}-vitb16_50e_in1k-1pct.py'),
                         (LOWSHOT, 'finetune_{}-vith14_50e_in1k-1pct.py')]:
        paths = [osp.join(folder, name.format(m)) for m in ('ijepa', 'dseq')]
        assert config_differences(*paths) == {
            'pretrain_method', 'model.backbone.use_cls_token',
            'model.backbone.init_cfg.checkpoint'}


def photo(seed: int = 0) -> Image.Image:
    """A smooth RGB image that is not square, so crops and resizes matter."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((300, 230), Image.Resampling.BICUBIC)


def seeded(fn, seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return fn()


@pytest.mark.parametrize('kwargs', [TIMM_TRAIN, TIMM_TEST], ids=['train', 'test'])
def test_pack_timm_inputs_gives_timms_pixels(kwargs):
    img = photo()
    pack = PackTimmInputs(**kwargs)
    reference = create_transform(**kwargs)
    for seed in range(8):
        expected = seeded(lambda: reference(img), seed)
        out = seeded(lambda: pack.transform(dict(img=np.array(img), gt_label=2)), seed)
        assert out['inputs'].dtype == torch.float32 and out['inputs'].shape == (3, 224, 224)
        assert torch.equal(out['inputs'], expected)
        assert out['data_samples'].dtype == torch.int64 and int(out['data_samples']) == 2


def test_timms_posterize_keeping_zero_bits_gives_a_black_image():
    # MAE's RandAugment ('inc') keeps 4 - 4 = 0 bits at magnitude 10, which Pillow 13 refuses:
    # requirements.txt keeps Pillow below 13
    img = photo()
    augment = RandAugment([AugmentOp('PosterizeIncreasing', prob=1.0, magnitude=10)],
                          num_layers=1)
    assert not np.asarray(augment(img)).any()
    kept = RandAugment([AugmentOp('PosterizeIncreasing', prob=1.0, magnitude=5)], num_layers=1)
    # 4 - int(5 / 10 * 4) = 2 bits: the two high bits of every value
    assert np.array_equal(np.asarray(kept(img)), np.asarray(img) & 0b11000000)


def tiny_model(pooling='avg', **kwargs) -> FineTuneClassifier:
    torch.manual_seed(0)
    return FineTuneClassifier(TINY, num_classes=5, pooling=pooling, **kwargs)


def test_avg_pooling_reads_the_raw_last_block_through_a_new_fc_norm():
    model = tiny_model().eval()
    torch.nn.init.normal_(model.backbone.norm.weight)  # the encoder's norm must play no part
    torch.nn.init.normal_(model.fc_norm.weight)
    x = torch.randn(3, 3, 32, 32)
    (maps,) = model.backbone.forward_intermediates(x, [-1], norm=False, intermediates_only=True)
    expected = model.fc_norm(maps.flatten(2).mean(-1))  # patch tokens only: no CLS
    assert torch.allclose(model.pooled(x), expected, atol=1e-6)
    assert torch.allclose(model(x), model.head(expected), atol=1e-6)
    assert not model.backbone.norm.weight.requires_grad


def test_cls_pooling_reads_the_normed_cls_token():
    model = tiny_model('cls').eval()
    x = torch.randn(3, 3, 32, 32)
    assert torch.allclose(model.pooled(x), model.backbone.forward_features(x)[:, 0], atol=1e-6)
    assert not hasattr(model, 'fc_norm')
    with pytest.raises(ValueError, match='use_cls_token'):
        FineTuneClassifier(dict(TINY, use_cls_token=False), num_classes=5, pooling='cls')


@pytest.mark.parametrize('pooling', ['avg', 'cls'])
def test_every_trainable_parameter_gets_a_gradient(pooling):
    """DDP refuses trainable parameters that the loss does not reach."""
    model = tiny_model(pooling, mixup=MIXUP)
    model(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]), mode='loss')['loss'].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert model.head.bias.abs().sum() == 0 and 0 < model.head.weight.std() < 4e-5


def test_mixed_loss_is_timms_mixup_and_soft_target_cross_entropy():
    model = tiny_model(mixup=MIXUP).eval()
    x, y = torch.randn(6, 3, 32, 32), torch.tensor([0, 4, 2, 2, 1, 3])
    for seed in range(3):  # mixup and cutmix draws alike
        loss = seeded(lambda: model(x.clone(), y, mode='loss')['loss'], seed)
        mixed, target = seeded(lambda: Mixup(**MIXUP, num_classes=5)(x.clone(), y), seed)
        expected = SoftTargetCrossEntropy()(model(mixed), target)
        assert torch.allclose(loss, expected, atol=1e-6)


@pytest.mark.parametrize('smoothing', [0.1, 0.0])
def test_loss_without_mixup_is_label_smoothed_cross_entropy(smoothing):
    model = tiny_model(label_smoothing=smoothing).eval()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 4, 2, 1])
    criterion = LabelSmoothingCrossEntropy(smoothing) if smoothing else F.cross_entropy
    assert torch.allclose(model(x, y, mode='loss')['loss'], criterion(model(x), y), atol=1e-6)


def test_predictions_are_what_probe_accuracy_reads():
    model = tiny_model('cls').eval()
    x, y = torch.randn(3, 3, 32, 32), torch.tensor([1, 0, 4])
    classes = model(x).argmax(-1).tolist()
    assert model(x, y, mode='predict') == [dict(gt=g, pred={'cls': c})
                                           for g, c in zip(y.tolist(), classes)]


def timm_twin(pooling: str) -> torch.nn.Module:
    return timm.models.VisionTransformer(
        img_size=32, patch_size=16, embed_dim=32, depth=4, num_heads=2, num_classes=5,
        global_pool='avg' if pooling == 'avg' else 'token')


@pytest.mark.parametrize('pooling', ['avg', 'cls'])
def test_layer_decay_groups_are_timms(pooling):
    """lr scale and weight decay of every parameter, against timm's param_groups_layer_decay on
    a timm ViT of the same shape (timm names: the backbone's parameters without 'backbone.').
    One exception, the encoder's final norm that the CLS head reads: MAE's lr_decay.py gives it
    layer L + 1 (scale 1, SPEC section 4d), where timm's group_matcher puts it in the last
    block's layer (scale decay)."""
    model = tiny_model(pooling)
    constructor = ViTLayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
        paramwise_cfg=dict(num_layers=4, decay_rate=0.65))
    names = {id(p): n for n, p in model.named_parameters()}
    ours = {names[id(p)]: (g['lr'], g['weight_decay'])
            for g in constructor(model).optimizer.param_groups for p in g['params']}
    twin = timm_twin(pooling)
    twin_names = {id(p): n for n, p in twin.named_parameters()}
    groups = param_groups_layer_decay(twin, weight_decay=0.05, layer_decay=0.65,
                                      no_weight_decay_list=twin.no_weight_decay())
    theirs = {twin_names[id(p)]: (g['lr_scale'], g['weight_decay'])
              for g in groups for p in g['params']}
    renamed = {(n if n.startswith(('head.', 'fc_norm.')) else f'backbone.{n}'): v
               for n, v in theirs.items()}
    assert set(ours) == set(renamed)
    for name, (scale, decay) in renamed.items():
        if name.startswith('backbone.norm.'):
            assert scale == pytest.approx(0.65) and ours[name] == (1.0, 0.0)
        else:
            assert ours[name] == (pytest.approx(scale), decay), name
    assert any(n.startswith('backbone.norm.') for n in ours) == (pooling == 'cls')


def mae_lr(step: int, steps_per_epoch: int, peak: float, warmup: int, epochs: int,
           min_lr: float = 1e-6) -> float:
    """mae util/lr_sched.py: the lr at a fractional epoch, before the group's lr scale."""
    epoch = step / steps_per_epoch
    if epoch < warmup:
        return peak * epoch / warmup
    return min_lr + (peak - min_lr) * 0.5 * (
        1 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))


def scheduled_lrs(cfg: Config, model: torch.nn.Module, steps_per_epoch: int) -> np.ndarray:
    """The lr of every param group at every iteration, the schedulers built as mmengine's runner
    builds them (iteration-based from epochs, the last ending with the run)."""
    wrapper = ViTLayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer),
        paramwise_cfg=dict(cfg.optim_wrapper.paramwise_cfg, num_layers=4))(model)
    schedulers = []
    for entry in cfg.param_scheduler:
        kwargs = {k: v for k, v in entry.items() if k not in ('type', 'convert_to_iter_based')}
        kwargs.setdefault('end', cfg.train_cfg.max_epochs)
        schedulers.append(PARAM_SCHEDULERS.get(entry.type).build_iter_from_epoch(
            wrapper, epoch_length=steps_per_epoch, **kwargs))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs * steps_per_epoch):
        lrs.append([g['lr'] for g in wrapper.optimizer.param_groups])
        for scheduler in schedulers:
            scheduler.step()
    return np.array(lrs)


# the schedulers step without a training step before them: no optimizer step is needed here
@pytest.mark.filterwarnings('ignore:Detected call of')
@pytest.mark.parametrize('config', ['finetune/finetune_ijepa-vitb16_100e_in1k.py',
                                    'finetune/finetune_ijepa-vith14_50e_in1k.py',
                                    'finetune/finetune-mae_ijepa-vith14_50e_in1k.py',
                                    'lowshot/finetune_ijepa-vitb16_50e_in1k-1pct.py'])
def test_lr_schedule_is_maes_per_group(config):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    model = tiny_model()
    steps_per_epoch, warmup, epochs = 3, 5, cfg.train_cfg.max_epochs
    lrs = scheduled_lrs(cfg, model, steps_per_epoch)
    peak, decay = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.paramwise_cfg.decay_rate
    warmup_steps = warmup * steps_per_epoch
    # the head's group (scale 1) and the embeddings' (layer 0 of 4 blocks: decay ** 5)
    for group, scale in [(-1, 1.0), (0, decay ** 5)]:
        for step, lr in enumerate(lrs[:, group]):
            expected = scale * mae_lr(step, steps_per_epoch, peak, warmup, epochs)
            # mmengine's LinearLR reaches the peak one iteration before MAE's warm-up does
            slack = scale * peak / warmup_steps if step < warmup_steps else 0.0
            assert abs(lr - expected) <= slack + 1e-9 * scale * peak, (group, step)
    assert lrs[-1, -1] > 1e-6 > lrs[-1, 0]  # each group's minimum is its scale x 1e-6


def test_lowshot_smoke_config_trains_on_a_class_balanced_part(tmp_path):
    from mmengine.registry import DATASETS
    import transfer  # noqa: F401  (registers the datasets)
    from synthetic import make_imagenet
    make_imagenet(str(tmp_path), num_train=120, num_val=6, seed=0)
    cfg = Config.fromfile(osp.join(LOWSHOT, 'finetune_ijepa-vittiny_4e_synthimagenet-5pct.py'))
    cfg.train_dataloader.dataset.dataset.data_root = str(tmp_path)
    subset = DATASETS.build(cfg.train_dataloader.dataset)
    labels = [subset.get_data_info(i)['gt_label'] for i in range(len(subset))]
    assert sorted(labels) == [0, 0, 1, 1, 2, 2]  # 5% of 40 per class


@pytest.mark.slow
def test_smoke_finetuning_through_the_tools_reports_top1_avg_with_records(tmp_path):
    from synthetic import make_imagenet  # what tools/make_synthetic_data.py imagenet writes
    data = tmp_path / 'data'
    make_imagenet(str(data), num_train=64, num_val=24, seed=0)
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=str(data))
    smoke = osp.join(FINETUNE, 'finetune_dseq-vittiny_1e_synthimagenet.py')
    work = tmp_path / 'work'
    run_tool('train.py', smoke, '--work-dir', str(work), '--test', env=env)
    run_tool('test.py', smoke, str(work / 'epoch_1.pth'), '--work-dir', str(tmp_path / 'test'),
             env=env)
    metrics, separate = (
        {k: v for k, v in metrics_of_test_run(str(d)).items() if k.startswith('accuracy/')}
        for d in (work, tmp_path / 'test'))
    assert metrics == separate  # the last checkpoint, tested as tools/test.py tests it
    assert metrics['accuracy/num_samples'] == 24 and 0 <= metrics['accuracy/top1_avg'] <= 100
    assert 'accuracy/top1_cls' not in metrics
    (run,) = [d for d in sorted(os.listdir(tmp_path / 'test')) if d[:8].isdigit()]
    records = run_records(str(tmp_path / 'test' / run))
    assert set(records) == {'accuracy/top1_avg'}
    assert len(records['accuracy/top1_avg'].keys) == 24
