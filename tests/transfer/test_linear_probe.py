"""The ImageNet-1k / FGVC linear probe (SPEC section 4b) and the fast probe beside it: the recipe as
the configs build it, what the heads read, the grid's param groups, the held-out selection, and
runs through the tools."""
import copy
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch.utils.data import DataLoader

import backbones  # noqa: F401  (registers JEPAViT)
from tests.helpers import ROOT, logged_scalars, metrics_of_test_run, run_tool
from suite.results import run_records
from transfer.feature_cache import _feature_loader, heldout_part
from transfer.probe import (LinearProbe, ProbeHeadsOptimWrapperConstructor, grid_head_name,
                            select_heads)

DATASETS = {'in1k': ('ImageNet-1k linear', 1000, 'train', 'val'),
            'inat21': ('iNat21 linear', 10000, 'train_mini', 'val'),
            'cub': ('CUB-200-2011 linear', 200, 'train', 'test'),
            'cars': ('Stanford Cars linear', 196, 'train', 'test')}
READOUTS = {'ijepa': ('concat4', 'avg'), 'dseq': ('concat4', 'avg', 'cls')}
SMOKE = osp.join(ROOT, 'configs', 'linear', 'linear_{}-vittiny_{}_synthimagenet.py')
# the smoke probes' many small heads run on one thread each: a second one only waits for the other
# processes of a busy machine
ONE_THREAD = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
TINY = dict(type='JEPAViT', arch='b', embed_dim=32, depth=4, num_heads=2, img_size=32,
            patch_size=16, use_cls_token=True)


def config(dataset: str, method: str, fast: bool = False) -> Config:
    schedule = 'fast' if fast else '28e'
    return Config.fromfile(osp.join(ROOT, 'configs', 'linear',
                                    f'linear_{method}-vitb16_{schedule}_{dataset}.py'))


def by_type(pipeline) -> dict:
    return {t['type']: t for t in pipeline}


@pytest.mark.parametrize('method', ['ijepa', 'dseq'])
@pytest.mark.parametrize('dataset', sorted(DATASETS))
def test_paper_recipe_as_the_configs_build_it(dataset, method):
    task, classes, train_split, test_split = DATASETS[dataset]
    cfg = config(dataset, method)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay) == \
        ('SGD', 0.01, 0.9, True, 5e-4)
    # lr 0.01 x global batch / 256: 32 per GPU on the 8 GPUs of the recipe
    assert cfg.auto_scale_lr.base_batch_size == 256 == 8 * cfg.train_dataloader.batch_size
    (steps,) = cfg.param_scheduler
    assert (steps.type, steps.by_epoch, list(steps.milestones), steps.gamma) == \
        ('MultiStepLR', True, [8, 16, 24], 0.1)
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs) == ('EpochBasedTrainLoop', 28)
    # nothing validates or selects: the last checkpoint is tested on the test split
    assert cfg.get('val_dataloader') is None and cfg.get('val_cfg') is None
    assert cfg.test_cfg.type == 'TestLoop'
    assert 'save_best' not in cfg.default_hooks.checkpoint
    assert (cfg.train_dataloader.dataset.split, cfg.test_dataloader.dataset.split) == \
        (train_split, test_split)
    train = by_type(cfg.train_dataloader.dataset.pipeline)
    test = by_type(cfg.test_dataloader.dataset.pipeline)
    crop = train['RandomResizedCrop']
    assert (crop.size, tuple(crop.scale), crop.interpolation) == (224, (0.08, 1.0), 'bicubic')
    assert (train['RandomFlip'].prob, train['RandomFlip'].direction) == (0.5, 'horizontal')
    assert (test['ResizeShortEdge'].size, test['ResizeShortEdge'].interpolation) == (256, 'bicubic')
    assert test['CenterCrop'].crop_size == 224
    model = cfg.model
    assert (model.num_classes, tuple(model.readouts), model.head_norm) == \
        (classes, READOUTS[method], 'batchnorm')
    assert model.get('head_grid') is None
    assert (model.backbone.arch, model.backbone.patch_size, model.backbone.init_cfg.encoder) == \
        ('b', 16, 'target')
    assert method in model.backbone.init_cfg.checkpoint
    assert (cfg.report.task, cfg.report.protocol) == (task, 'top-1 concat4')
    assert 'accuracy/top1_concat4' in cfg.report.metrics
    assert cfg.test_evaluator.prefix == 'accuracy'


def test_recipe_builds_batchnorm_heads_and_one_sgd_group_each():
    from mmengine.registry import MODELS
    cfg = config('in1k', 'dseq')
    model = MODELS.build(cfg.model)  # no init_weights: the checkpoint is not read
    widths = {'concat4': 4 * 768, 'avg': 768, 'cls': 768}
    assert set(model.heads) == set(widths)
    for name, head in model.heads.items():
        norm, linear = head
        assert isinstance(norm, torch.nn.BatchNorm1d) and norm.affine
        assert (norm.num_features, norm.eps, norm.momentum) == (widths[name], 1e-5, 0.1)
        assert (linear.in_features, linear.out_features) == (widths[name], 1000)
    wrapper = cfg.optim_wrapper.to_dict()
    wrapper.pop('constructor')
    optimizer = ProbeHeadsOptimWrapperConstructor(wrapper)(model).optimizer
    assert [g['params'] for g in optimizer.param_groups] == \
        [list(h.parameters()) for h in model.heads.values()]
    assert all((g['lr'], g['weight_decay'], g['momentum'], g['nesterov']) == (0.01, 5e-4, 0.9, True)
               for g in optimizer.param_groups)


@pytest.mark.parametrize('method', ['ijepa', 'dseq'])
def test_fast_probe_holds_out_part_of_the_training_set(method):
    dataset = 'in1k'
    task, _, train_split, test_split = DATASETS[dataset]
    cfg, recipe = config(dataset, method, fast=True), config(dataset, method)
    assert cfg.model.readouts == recipe.model.readouts and cfg.optim_wrapper == recipe.optim_wrapper
    assert cfg.param_scheduler == recipe.param_scheduler
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs, cfg.test_cfg.type) == \
        ('FeatureCacheTrainLoop', 28, 'FeatureCacheTestLoop')
    grid = cfg.model.head_grid
    assert len(grid.lr_scales) * len(grid.weight_decays) == 15 and 1.0 in grid.lr_scales
    assert cfg.test_cfg.select_on_heldout and 'selection_dataloader' not in cfg.test_cfg
    trained = cfg.train_dataloader.dataset
    held_out = heldout_part(cfg.train_dataloader, cfg.test_dataloader)['dataset']
    assert (trained.type, trained.part, held_out.type, held_out.part) == \
        ('ClassBalancedSubset', 'rest', 'ClassBalancedSubset', 'subset')
    assert {k: v for k, v in trained.items() if k != 'part'} == \
        {k: v for k, v in held_out.items() if k != 'part'}
    # every split encoded as the test split is: centre crops, no augmentation
    assert trained.dataset.pipeline == recipe.test_dataloader.dataset.pipeline
    assert trained.dataset.split == train_split
    assert cfg.test_dataloader == recipe.test_dataloader
    assert cfg.test_dataloader.dataset.split == test_split
    assert cfg.report.task == f'{task} (fast)' and cfg.report.protocol == 'top-1 concat4'


def normalised(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    return (images.float() - mean) / std


def test_heads_read_the_encoders_intermediates():
    torch.manual_seed(0)
    probe = LinearProbe(TINY, num_classes=5, readouts=('concat4', 'avg', 'cls'),
                        head_norm='batchnorm').eval()
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    seen = {}
    for name, head in probe.heads.items():
        head.register_forward_pre_hook(lambda m, args, name=name: seen.update({name: args[0]}))
    logits = probe(images, mode='tensor')
    with torch.no_grad():  # every block's output after the final LayerNorm, as NCHW maps
        final, blocks = probe.backbone.forward_intermediates(normalised(images), [0, 1, 2, 3],
                                                             norm=True)
    expected = {'concat4': torch.cat([b.mean((2, 3)) for b in blocks], 1),
                'avg': blocks[-1].mean((2, 3)), 'cls': final[:, 0]}
    for name, features in expected.items():
        torch.testing.assert_close(seen[name], features)
        torch.testing.assert_close(logits[name], probe.heads[name](features))


def test_images_train_the_heads_alone():
    torch.manual_seed(0)
    probe = LinearProbe(TINY, num_classes=5, readouts=('avg', 'cls'), head_norm='batchnorm').train()
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 3])
    assert not probe.backbone.training
    losses = probe(images, labels, mode='loss')
    assert set(losses) == {'loss_avg', 'loss_cls'}
    sum(losses.values()).backward()
    assert all(p.grad is None for p in probe.backbone.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in probe.heads.parameters())


def grid_probe(lr_scales=(0.5, 2.0), weight_decays=(0.0, 0.01), readouts=('avg', 'concat4'),
               head_norm='batchnorm') -> LinearProbe:
    torch.manual_seed(0)
    return LinearProbe(TINY, num_classes=4, readouts=readouts, head_norm=head_norm,
                       head_grid=dict(lr_scales=lr_scales, weight_decays=weight_decays))


def test_grid_heads_step_as_their_own_sgd():
    probe = grid_probe().train()
    sgd = dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    wrapper = ProbeHeadsOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=sgd))(probe)
    groups = wrapper.optimizer.param_groups
    assert len(groups) == len(probe.heads) == 2 * 2 * 2
    references = {}
    for group, (name, spec) in zip(groups, probe.head_specs.items()):
        assert name == grid_head_name(spec.readout, spec.lr_scale, spec.weight_decay)
        assert group['params'] == list(probe.heads[name].parameters())
        assert (group['lr'], group['weight_decay']) == (0.1 * spec.lr_scale, spec.weight_decay)
        head = copy.deepcopy(probe.heads[name])
        references[name] = (head, torch.optim.SGD(head.parameters(), lr=0.1 * spec.lr_scale,
                                                  momentum=0.9, nesterov=True,
                                                  weight_decay=spec.weight_decay))
    assert len({(g['lr'], g['weight_decay']) for g in groups}) == 4
    g = torch.Generator().manual_seed(1)
    for _ in range(3):  # momentum matters from the second step on
        features = {'avg': torch.randn(8, 32, generator=g),
                    'concat4': torch.randn(8, 128, generator=g)}
        labels = torch.randint(0, 4, (8,), generator=g)
        wrapper.update_params(sum(probe(features, labels, mode='loss').values()))
        for name, (head, optimizer) in references.items():
            optimizer.zero_grad()
            readout = probe.head_specs[name].readout
            torch.nn.functional.cross_entropy(head(features[readout]), labels).backward()
            optimizer.step()
    for name, (head, _) in references.items():
        for mine, theirs in zip(probe.heads[name].parameters(), head.parameters()):
            torch.testing.assert_close(mine, theirs)
    # the param schedulers scale every group alike
    from mmengine.optim import MultiStepLR
    MultiStepLR(wrapper, milestones=[1], gamma=0.1).step()
    for group, spec in zip(groups, probe.head_specs.values()):
        assert group['lr'] == pytest.approx(0.01 * spec.lr_scale)


def test_a_training_pass_never_ends_in_a_batch_of_one():
    """A BatchNorm head cannot train on one feature: a shuffled pass drops a last batch of one,
    and only that; evaluation passes keep every feature."""
    class Cache:  # what the loader reads of a feature cache: its length and whole batches
        def __init__(self, size):
            self.size = size

        def __len__(self):
            return self.size

        def __getitems__(self, indices):
            return indices

    for size, train, test in ((17, [16], [16, 1]), (18, [16, 2], [16, 2]), (1, [], [1])):
        assert [len(b) for b in _feature_loader(Cache(size), 16, True, 0)] == train
        assert [len(b) for b in _feature_loader(Cache(size), 16, False, 0)] == test


def test_grid_names_and_refusals():
    probe = grid_probe(lr_scales=(0.3,), weight_decays=(5e-4,), readouts=('cls',))
    assert list(probe.heads) == ['cls_lrx0p3_wd0p0005']
    with pytest.raises(ValueError, match='twice'):
        grid_probe(lr_scales=(1, 1.0))
    with pytest.raises(KeyError, match='lr_scales and weight_decays'):
        grid_probe(weight_decays=())
    with pytest.raises(KeyError, match='head_norm'):
        grid_probe(head_norm='layernorm')
    with pytest.raises(TypeError, match='LinearProbe'):
        ProbeHeadsOptimWrapperConstructor(dict(optimizer=dict(type='SGD', lr=0.1)))(
            torch.nn.Linear(2, 2))


def test_select_heads_takes_the_best_per_readout_first_on_ties():
    specs = grid_probe(lr_scales=(1.0, 2.0), weight_decays=(0.0,)).head_specs
    names = list(specs)  # avg x1, avg x2, concat4 x1, concat4 x2
    top1 = dict(zip(names, [50.0, 75.0, 60.0, 60.0]))
    assert select_heads(top1, specs) == {'avg': names[1], 'concat4': names[2]}


class Images(torch.utils.data.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return dict(inputs=self.images[i], data_samples=self.labels[i])


def test_selection_reads_the_held_out_split_not_the_test_split(tmp_path):
    from mmengine.runner import Runner
    probe = grid_probe(lr_scales=(1.0, 2.0), weight_decays=(0.0,), readouts=('avg',),
                       head_norm=None).eval()
    first, second = probe.head_specs
    with torch.no_grad():  # the second head is the first negated: their predictions always differ
        probe.heads[second].weight.copy_(-probe.heads[first].weight)
    images = torch.randint(0, 256, (2, 12, 3, 32, 32), dtype=torch.uint8)
    held_out, test = (Images(x, probe(x, mode='tensor')[head].argmax(1))
                      for x, head in zip(images, (first, second)))
    # so the first head is right on every held-out image and wrong on every test image
    runner = Runner(
        model=probe, work_dir=str(tmp_path), default_scope='mmengine',
        test_dataloader=DataLoader(test, batch_size=5),
        test_cfg=dict(type='FeatureCacheTestLoop', batch_size=7,
                      selection_dataloader=DataLoader(held_out, batch_size=5)),
        test_evaluator=dict(type='ProbeAccuracy', prefix='accuracy'))
    loop = runner.test_loop
    fill = loop.cache.fill

    def fill_after_the_choice(*args):
        assert loop.selection.features is not None
        assert loop.evaluator.metrics[0].selected == {'avg': first}
        fill(*args)
    loop.cache.fill = fill_after_the_choice
    metrics = runner.test()
    assert metrics == {'accuracy/top1_avg': 0.0, 'accuracy/heldout_top1_avg': 100.0,
                       'accuracy/lr_scale_avg': 1.0, 'accuracy/weight_decay_avg': 0.0,
                       'accuracy/num_samples': 12.0}
    # recorded per image: the chosen head's correctness (the other head is right on every test
    # image); a dataset of tensors names no image files, so the keys are the labels and the records
    # pair with no other run's
    (record,) = run_records(runner.log_dir).items()
    assert record[0] == 'accuracy/top1_avg' and record[1].value == 0.0
    assert record[1].metric(np.ones(12)) == 0.0
    assert record[1].keys.tolist() == test.labels.tolist() and record[1].identity is None


@pytest.fixture(scope='module')
def synthetic_imagenet_splits(tmp_path_factory) -> str:
    """A synthetic ImageNet of 3 classes: 64 training and 24 validation images."""
    from synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('synthetic_imagenet_splits'))
    make_imagenet(root, num_train=64, num_val=24, seed=0)
    return root


@pytest.mark.slow
def test_recipe_probe_over_two_gloo_ranks_then_tested(synthetic_imagenet_splits, tmp_path):
    import subprocess
    import sys
    smoke = SMOKE.format('ijepa', '7e')
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=synthetic_imagenet_splits, PORT='29561',
               PYTHON=sys.executable, **ONE_THREAD)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), smoke, '2',
                           '--work-dir', str(tmp_path), '--test'], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # 64 images, 16 per process and step: 2 steps per epoch when the 2 ranks share the data
    cfg = Config.fromfile(smoke)
    losses = [row for row in logged_scalars(str(tmp_path)) if 'loss_concat4' in row]
    assert len(losses) == cfg.train_cfg.max_epochs * 64 // (2 * cfg.train_dataloader.batch_size)
    metrics = metrics_of_test_run(str(tmp_path))  # tested by the same two processes
    assert {f'accuracy/top1_{r}' for r in ('concat4', 'avg')} <= set(metrics)
    assert metrics['accuracy/num_samples'] == 24
    assert all(0 <= metrics[f'accuracy/top1_{r}'] <= 100 for r in ('concat4', 'avg'))


@pytest.mark.slow
def test_fast_probe_through_the_tools_reports_the_chosen_heads(synthetic_imagenet_splits, tmp_path):
    smoke = SMOKE.format('dseq', 'fast')
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=synthetic_imagenet_splits, **ONE_THREAD)
    out = run_tool('train.py', smoke, '--work-dir', str(tmp_path), '--test', env=env)
    assert 'feature cache: encoding 48 images' in out  # 64 less the 16 held out
    assert 'feature cache: encoding 16 images' in out and 'feature cache: encoding 24 images' in out
    cfg = Config.fromfile(smoke)
    checkpoint = tmp_path / f'epoch_{cfg.train_cfg.max_epochs}.pth'  # no best kept: the last
    run_tool('test.py', smoke, str(checkpoint), '--work-dir', str(tmp_path / 'test'), env=env)
    metrics, separate = (
        {k: v for k, v in metrics_of_test_run(d).items() if k.startswith('accuracy/')}
        for d in (str(tmp_path), str(tmp_path / 'test')))
    assert metrics == separate  # tested in train.py's process as tools/test.py tests
    grid = cfg.model.head_grid
    for r in ('concat4', 'avg', 'cls'):
        assert 0 <= metrics[f'accuracy/top1_{r}'] <= 100
        assert 0 <= metrics[f'accuracy/heldout_top1_{r}'] <= 100
        assert metrics[f'accuracy/lr_scale_{r}'] in grid.lr_scales
        assert metrics[f'accuracy/weight_decay_{r}'] in grid.weight_decays
    assert metrics['accuracy/num_samples'] == 24
    # only the chosen heads are reported on the test split
    assert not [k for k in metrics if '_lrx' in k]


def test_select_on_heldout_needs_the_rest_of_a_held_out_slice_to_train_on():
    test = dict(batch_size=4, dataset=dict(type='ImageNetDataset', split='val'))
    subset = dict(type='ClassBalancedSubset', fraction=0.1, seed=0, dataset=dict(split='train'))
    assert heldout_part(dict(dataset=dict(subset, part='rest')), test) == \
        dict(test, dataset=dict(subset, part='subset'))
    with pytest.raises(ValueError, match="part='rest'"):
        heldout_part(dict(dataset=test['dataset']), test)
