"""Layer-wise probing (SPEC section 4g, configs/layerwise/): every head reads its block as the
encoder's forward_intermediates gives it, the configs probe every block with the 4b recipe and
report a row per block and readout, and the tiny config runs through the tools."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import backbones  # noqa: F401  (registers JEPAViT)
from backbones.vit import ARCHS
from suite.layerwise import layerwise_row
from suite.methods import METHODS
from suite.results import protocol_of, run_records
from tests.helpers import ROOT, metrics_of_test_run, run_tool
from transfer.probe import LinearProbe

#: encoder -> its blocks, as SPEC gives them (ViT-B 12, ViT-H 32, the suite's tiny ViT 6)
DEPTHS = {'vitb16': 12, 'vith14': 32, 'vittiny': 6}
CONFIGS = {(method, encoder): osp.join(
    ROOT, 'configs', 'layerwise',
    f'layerwise_{method}-{encoder}_28e_{"synthimagenet" if encoder == "vittiny" else "in1k"}.py')
    for method in ('ijepa', 'dseq') for encoder in DEPTHS}
TINY = dict(type='JEPAViT', arch='b', embed_dim=32, depth=4, num_heads=2, img_size=32,
            patch_size=16, use_cls_token=True)
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def expected_readouts(depth: int, cls: bool) -> set:
    return {f'block{k}_{kind}' for k in range(1, depth + 1)
            for kind in (('avg', 'cls') if cls else ('avg',))}


def test_each_head_reads_its_block_as_forward_intermediates_gives_it():
    torch.manual_seed(0)
    readouts = sorted(expected_readouts(TINY['depth'], cls=True))
    probe = LinearProbe(TINY, num_classes=5, readouts=readouts, head_norm='batchnorm').eval()
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    seen = {}
    for name, head in probe.heads.items():
        head.register_forward_pre_hook(lambda m, args, name=name: seen.update({name: args[0]}))
    logits = probe(images, mode='tensor')  # through the probe's extract, one encoder pass
    x = (images.float() - MEAN) / STD
    expected = {}
    with torch.no_grad():
        for k in range(1, TINY['depth'] + 1):  # each block read on its own, after the final norm
            ((patches, prefix),) = probe.backbone.forward_intermediates(
                x, [k - 1], norm=True, return_prefix_tokens=True, output_fmt='NLC',
                intermediates_only=True)
            expected[f'block{k}_avg'] = patches.mean(1)
            expected[f'block{k}_cls'] = prefix[:, 0]
    assert set(seen) == set(expected)
    for name, features in expected.items():
        torch.testing.assert_close(seen[name], features)
        torch.testing.assert_close(logits[name], probe.heads[name](features))
    # the blocks differ, so a head reading another block than its own would fail above
    for kind in ('avg', 'cls'):
        firsts = [expected[f'block{k}_{kind}'] for k in range(1, TINY['depth'] + 1)]
        assert all(not torch.allclose(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:])


@pytest.mark.parametrize('method,encoder', sorted(CONFIGS))
def test_configs_probe_every_block_with_the_4b_recipe(method, encoder):
    cfg = Config.fromfile(CONFIGS[(method, encoder)])
    depth, backbone = DEPTHS[encoder], cfg.model.backbone
    # the depth the encoder is built with: its arch's unless the config sets one
    assert backbone.get('depth', ARCHS[backbone.arch]['depth']) == depth
    assert backbone.patch_size == {'vitb16': 16, 'vith14': 14, 'vittiny': 16}[encoder]
    assert cfg.pretrain_method == method and backbone.use_cls_token == (method == 'dseq')
    assert set(cfg.model.readouts) == expected_readouts(depth, cls=method == 'dseq')
    assert len(cfg.model.readouts) == len(set(cfg.model.readouts))
    assert cfg.model.head_norm == 'batchnorm' and cfg.model.get('head_grid') is None
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay) == \
        ('SGD', 0.01, 0.9, True, 5e-4)
    (steps,) = cfg.param_scheduler
    assert (steps.type, list(steps.milestones), steps.gamma) == ('MultiStepLR', [8, 16, 24], 0.1)
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs, cfg.test_cfg.type) == \
        ('FeatureCacheTrainLoop', 28, 'FeatureCacheTestLoop')
    # every split through the test pipeline, encoded once; nothing is selected
    assert cfg.train_dataloader.dataset.get('pipeline', cfg.train_dataloader.dataset.get(
        'dataset', {}).get('pipeline')) == cfg.test_dataloader.dataset.pipeline
    assert not cfg.test_cfg.get('select_on_heldout') and 'no selection' in cfg.report.selection
    # each head's logged top-1 is a row the picture reads as its block and readout
    for readout in cfg.model.readouts:
        label, factor = cfg.report.metrics[f'accuracy/top1_{readout}']
        assert factor == 1 and layerwise_row(label) == (int(readout[5:].split('_')[0]),
                                                        readout.split('_')[1])
    assert cfg.report.protocol == f'top-1 block {depth} avg'
    assert cfg.report.task.endswith('layer-wise')


@pytest.mark.parametrize('method', ['ijepa', 'dseq'])
@pytest.mark.parametrize('encoder', ['vitb16', 'vith14'])
def test_imagenet_heads_train_on_a_class_balanced_tenth_and_test_on_val(method, encoder):
    cfg = Config.fromfile(CONFIGS[(method, encoder)])
    trained = cfg.train_dataloader.dataset
    assert (trained.type, trained.part, trained.fraction) == ('ClassBalancedSubset', 'subset', 0.1)
    assert (trained.dataset.type, trained.dataset.split) == ('ImageNetDataset', 'train')
    assert (cfg.test_dataloader.dataset.type, cfg.test_dataloader.dataset.split) == \
        ('ImageNetDataset', 'val')
    # lr 0.01 x batch / 256: the feature batch is the recipe's 256
    assert cfg.train_cfg.batch_size == 256 and cfg.train_cfg.feature_dtype == 'float16'


def test_a_baseline_probed_layer_wise_is_read_by_its_readout_at_the_last_block():
    """suite.results.protocol_of takes a baseline's first row of its own readout: the configs list
    the last block first, so that row is the last block's."""
    for (_, encoder), path in CONFIGS.items():
        report = Config.fromfile(path).report
        depth = DEPTHS[encoder]
        assert protocol_of(METHODS['mae'], report) == f'top-1 block {depth} avg'
        assert protocol_of(METHODS['dinov2'], report) == f'top-1 block {depth} cls'


@pytest.fixture(scope='module')
def synthetic_imagenet(tmp_path_factory) -> str:
    from synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('synthetic_imagenet_layerwise'))
    make_imagenet(root, num_train=48, num_val=24, seed=0)
    return root


def record_of_test_run(work_dir: str) -> dict:
    """Logged key -> its per-image records, of the one tools/test.py run of a work dir."""
    (run,) = [osp.join(work_dir, d) for d in sorted(os.listdir(work_dir))
              if osp.exists(osp.join(work_dir, d, f'{d}.json'))]
    return run_records(run)


@pytest.mark.slow
def test_tiny_config_through_the_tools_reports_every_block(synthetic_imagenet, tmp_path):
    config = CONFIGS[('dseq', 'vittiny')]
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=synthetic_imagenet, OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    out = run_tool('train.py', config, '--work-dir', str(tmp_path), '--test', env=env)
    assert 'feature cache: encoding 48 images' in out and 'feature cache: encoding 24 images' in out
    run_tool('test.py', config, str(tmp_path / 'epoch_28.pth'), '--work-dir',
             str(tmp_path / 'test'), env=env)
    keys = {f'accuracy/top1_{r}' for r in expected_readouts(DEPTHS['vittiny'], cls=True)}
    for work_dir in (str(tmp_path), str(tmp_path / 'test')):
        metrics = metrics_of_test_run(work_dir)
        assert keys <= set(metrics) and metrics['accuracy/num_samples'] == 24
        records = record_of_test_run(work_dir)
        assert set(records) == keys
        for key in keys:  # each image's correctness, summing to the logged top-1
            assert len(records[key].keys) == 24 and records[key].identity is not None
            assert records[key].value == metrics[key]
            assert records[key].metric(np.ones(24)) == pytest.approx(metrics[key])
    assert {k: v for k, v in metrics_of_test_run(str(tmp_path)).items() if k in keys} == \
        {k: v for k, v in metrics_of_test_run(str(tmp_path / 'test')).items() if k in keys}
