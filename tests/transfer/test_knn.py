"""kNN classification: the vote against a brute-force reference, the classifier and its test loop
through tools/test.py (one process and two), the pretraining monitor, and the configs."""
import glob
import math
import os
import os.path as osp
import pickle
import random
import socket
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import MODELS
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from backbones import JEPAViT
from backbones.safe_checkpoint import load_from_local_safely
from backbones.vit import VisionTransformer
from tests.helpers import (ROOT, config_differences, config_with_hooks, last_run_logged,
                      logged_scalars, metrics_of_test_run, run_pretraining, run_tool)
from suite.results import run_records
from transfer.classification import training_split
from transfer.knn import KNNClassifier, KNNMonitorHook, knn_classify
from transfer.features import probe_features

SMOKE = {m: osp.join(ROOT, 'configs', 'knn', f'knn_{m}-vittiny_synthimagenet.py')
         for m in ('ijepa', 'dseq')}


def reference_knn(bank, labels, queries, num_classes, k, temperature):
    """Query by query: cosine similarities sorted, the k largest voting exp(s / T) for their
    class, the largest sum winning (the lowest class on a tie)."""
    bank = [b / b.norm() for b in bank.double()]
    preds = []
    for q in queries.double():
        q = q / q.norm()
        sims = sorted(((float(q @ b), int(y)) for b, y in zip(bank, labels)), reverse=True)
        votes = [0.0] * num_classes
        for s, y in sims[:k]:
            votes[y] += math.exp(s / temperature)
        preds.append(votes.index(max(votes)))
    return preds


@pytest.mark.parametrize('k', [1, 7, 40])
@pytest.mark.parametrize('chunk_size', [1, 5, 1000])
def test_knn_classify_equals_a_brute_force_reference(k, chunk_size):
    g = torch.Generator().manual_seed(k * 1000 + chunk_size)
    bank, queries = torch.randn(40, 16, generator=g), torch.randn(23, 16, generator=g)
    labels = torch.randint(0, 5, (40,), generator=g)
    preds = knn_classify(bank * 3, labels, queries, num_classes=6, k=k, temperature=0.07,
                         chunk_size=chunk_size)  # the scale of a feature does not matter
    assert preds.tolist() == reference_knn(bank, labels, queries, 6, k, 0.07)
    assert preds.dtype == torch.long


def test_the_vote_is_weighted_by_similarity():
    # one neighbour of class 0 at similarity 1, two of class 1 at about 0.5: at T = 0.07 the close
    # one outweighs the two; at a large T each neighbour counts about the same
    bank = torch.tensor([[1.0, 0.0], [0.5, 0.87], [0.5, -0.87]])
    labels, query = torch.tensor([0, 1, 1]), torch.tensor([[1.0, 0.0]])
    assert knn_classify(bank, labels, query, 2, k=3, temperature=0.07).tolist() == [0]
    assert knn_classify(bank, labels, query, 2, k=3, temperature=100.0).tolist() == [1]


def test_k_larger_than_the_bank_is_refused():
    bank, labels = torch.randn(20, 8), torch.zeros(20, dtype=torch.long)
    with pytest.raises(ValueError, match='k=21 needs a bank of at least k images; this bank '
                                         'holds 20'):
        knn_classify(bank, labels, torch.randn(3, 8), 1, k=21)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_knn_classify_on_the_gpu_equals_the_cpu():
    g = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(5000, 64, generator=g), torch.randn(300, 64, generator=g)
    labels = torch.randint(0, 10, (5000,), generator=g)
    cpu = knn_classify(bank, labels, queries, 10, chunk_size=64)
    gpu = knn_classify(bank.cuda(), labels.cuda(), queries.cuda(), 10, chunk_size=64)
    assert gpu.is_cuda and gpu.cpu().tolist() == cpu.tolist()


def _tiny_backbone(**kwargs) -> dict:
    return dict(type='JEPAViT', embed_dim=32, depth=4, num_heads=2, img_size=32, patch_size=16,
                **kwargs)


def _images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def test_the_classifier_is_frozen_and_votes_per_readout():
    torch.manual_seed(0)
    model = KNNClassifier(_tiny_backbone(use_cls_token=True), num_classes=3,
                          readouts=('concat4', 'avg', 'cls'), k=5)
    assert isinstance(model.backbone, JEPAViT)
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.train().backbone.training
    bank, queries = _images(12, 0), _images(7, 1)
    labels, query_labels = torch.arange(12) % 3, torch.arange(7) % 3
    with pytest.raises(RuntimeError, match='KNNTestLoop'):
        model(queries, query_labels, mode='predict')
    model.set_bank(model.extract(bank), labels)
    out = model(queries, query_labels, mode='predict')
    features = probe_features(model.backbone, queries, model.readouts)
    bank_features = probe_features(model.backbone, bank, model.readouts)
    for r in model.readouts:
        expected = knn_classify(bank_features[r], labels, features[r], 3, k=5).tolist()
        assert [s['pred'][r] for s in out] == expected, r
    assert [s['gt'] for s in out] == query_labels.tolist()
    with pytest.raises(ValueError, match='use_cls_token=True'):
        KNNClassifier(_tiny_backbone(), num_classes=3, readouts=('cls',))


def _fake_runner(model: nn.Module, max_iters: int, iters_per_epoch: int) -> SimpleNamespace:
    """What the monitor reads of a Runner."""
    return SimpleNamespace(
        model=model, seed=0, iter=0, max_iters=max_iters, train_dataloader=range(iters_per_epoch),
        build_dataloader=Runner.build_dataloader,
        message_hub=MessageHub.get_instance('test_knn_monitor'),
        logger=MMLogger.get_instance('test_knn_monitor'))


def _loader(images: torch.Tensor, labels: torch.Tensor) -> DataLoader:
    items = [dict(inputs=x, data_samples=y) for x, y in zip(images, labels)]
    return DataLoader(items, batch_size=5, collate_fn=default_collate)


def _rng_states() -> tuple:
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def test_the_monitor_evaluates_on_schedule_and_leaves_modes_and_random_states_alone():
    torch.manual_seed(0)
    model = nn.Module()
    model.target_encoder = VisionTransformer(embed_dim=32, depth=2, num_heads=2, img_size=32,
                                             patch_size=16)
    encoder = model.target_encoder
    encoder.blocks[0].eval()  # a mixed state, restored module by module
    modes = [m.training for m in encoder.modules()]
    bank = _loader(_images(24, 0), torch.arange(24) % 3)
    queries = _loader(_images(9, 1), torch.arange(9) % 3)
    hook = KNNMonitorHook(interval=2, bank_dataloader=bank, query_dataloader=queries, k=5)
    # 3 epochs of 4 iterations: after epoch 2, and after the last iteration (epoch 3)
    runner = _fake_runner(model, max_iters=12, iters_per_epoch=4)
    hook.before_train(runner)
    before = _rng_states()
    evaluated = []
    for it in range(12):
        runner.iter = it
        hook.after_train_iter(runner, it)
        if 'train/knn_top1' in runner.message_hub.log_scalars:
            evaluated.append(len(runner.message_hub.log_scalars['train/knn_top1'].data[0]))
    after = _rng_states()
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert before[2] == after[2]
    assert [m.training for m in encoder.modules()] == modes
    assert evaluated == [1, 1, 1, 1, 2]  # from iteration 8 on; the second at 12
    encoder.eval()
    features = {name: torch.cat([probe_features(encoder, b['inputs'], ('avg',))['avg']
                                 for b in loader])
                for name, loader in (('bank', bank), ('query', queries))}
    preds = knn_classify(features['bank'], torch.arange(24) % 3, features['query'], 3, k=5)
    expected = 100.0 * (preds == torch.arange(9) % 3).double().mean().item()
    assert runner.message_hub.get_scalar('train/knn_top1').current() == expected
    assert runner.message_hub.get_scalar('train/knn_seconds').current() > 0


def test_a_monitor_without_its_data_fails_when_training_starts_and_says_how_to_drop_it(tmp_path):
    model = nn.Module()
    model.target_encoder = VisionTransformer(embed_dim=32, depth=2, num_heads=2, img_size=32,
                                             patch_size=16)
    missing = dict(batch_size=4, sampler=dict(type='DefaultSampler', shuffle=False),
                   dataset=dict(type='ImageNetDataset', data_root=str(tmp_path), split='val'))
    hook = KNNMonitorHook(interval=25, bank_dataloader=missing, query_dataloader=missing)
    with pytest.raises(FileNotFoundError, match=r"(?s)val folder not found.*KNNMonitorHook.*"
                                                r"leave it out of custom_hooks"):
        hook.before_train(_fake_runner(model, max_iters=10, iters_per_epoch=1))


# --- the configs ---------------------------------------------------------------------------------

KNN_LEAVES = {'in1k': ('ImageNet-1k kNN', 'train'), 'inat21': ('iNat21 kNN', 'train_mini'),
              'cub': ('CUB-200-2011 kNN', 'train'), 'cars': ('Stanford Cars kNN', 'train')}
DSEQ_CHANGES = {'pretrain_method', 'model.backbone.use_cls_token', 'model.readouts',
                'model.backbone.init_cfg.checkpoint'}


@pytest.mark.parametrize('name', sorted(KNN_LEAVES))
def test_knn_configs_bank_the_training_split_through_the_test_pipeline(name):
    task, train_split = KNN_LEAVES[name]
    leaves = {m: osp.join(ROOT, 'configs', 'knn', f'knn_{m}-vitb16_{name}.py')
              for m in ('ijepa', 'dseq')}
    cfg = Config.fromfile(leaves['ijepa'])
    assert 'bank_dataloader' not in cfg.test_cfg  # KNNTestLoop's default bank
    bank = training_split(cfg.test_dataloader)
    assert cfg.test_cfg.type == 'KNNTestLoop' and cfg.train_dataloader is None
    assert bank.dataset.split == train_split
    assert bank.dataset.type == cfg.test_dataloader.dataset.type
    assert bank.dataset.pipeline == cfg.test_dataloader.dataset.pipeline == cfg.test_pipeline
    assert bank.sampler == dict(type='DefaultSampler', shuffle=False)  # gathered in order
    assert cfg.model.num_classes == cfg.num_classes and cfg.model.readouts == ('concat4', 'avg')
    assert (cfg.model.k, cfg.model.temperature) == (20, 0.07)
    assert cfg.report.task == task and cfg.report.protocol == 'top-1 concat4'
    assert cfg.pretrain_method == 'ijepa'
    assert config_differences(leaves['ijepa'], leaves['dseq']) == DSEQ_CHANGES
    assert Config.fromfile(leaves['dseq']).model.readouts == ('concat4', 'avg', 'cls')


def test_the_bank10_leaves_wrap_the_bank_in_a_class_balanced_tenth():
    full = Config.fromfile(osp.join(ROOT, 'configs', 'knn', 'knn_ijepa-vitb16_in1k.py'))
    for method in ('ijepa', 'dseq'):
        path = osp.join(ROOT, 'configs', 'knn', f'knn_{method}-vitb16_bank10_in1k.py')
        bank = Config.fromfile(path).test_cfg.bank_dataloader.dataset
        assert bank == dict(type='ClassBalancedSubset', fraction=0.1, seed=0,
                            dataset=training_split(full.test_dataloader)['dataset'])
    assert config_differences(*(osp.join(ROOT, 'configs', 'knn', f'knn_{m}-vitb16_bank10_in1k.py')
                                for m in ('ijepa', 'dseq'))) == DSEQ_CHANGES


def test_the_smoke_configs_differ_by_the_cls_token_only():
    assert config_differences(SMOKE['ijepa'], SMOKE['dseq']) == \
        {'pretrain_method', 'model.backbone.use_cls_token', 'model.readouts'}
    cfg = Config.fromfile(SMOKE['ijepa'])
    assert cfg.model.backbone.img_size == 192 and cfg.model.backbone.init_cfg.checkpoint is None
    assert cfg.report.task == 'synthetic ImageNet kNN'


def _monitor(cfg: Config) -> list:
    return [h for h in cfg.custom_hooks if h['type'] == 'KNNMonitorHook']


@pytest.mark.parametrize('leaf', ['ijepa_vits16', 'ijepa_vitb16', 'ijepa_vitl16', 'ijepa_vith14',
                                  'dseq_vits16', 'dseq_vitb16', 'dseq_vitl16', 'dseq_vith14'])
def test_imagenet_pretraining_monitors_knn_every_25_epochs_at_the_encoders_size(leaf):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', f'{leaf}_in1k.py'))
    (hook,) = _monitor(cfg)
    assert hook['interval'] == 25 and 'transfer' in cfg.custom_imports.imports
    size = cfg.model.encoder.img_size
    assert size == 224 and size % cfg.model.encoder.patch_size == 0
    for name, split, fraction in (('bank', 'train', 0.1), ('query', 'val', 0.2)):
        dataset = hook[f'{name}_dataloader']['dataset']
        assert (dataset['type'], dataset['fraction'], dataset['dataset']['split']) == \
            ('ClassBalancedSubset', fraction, split)
        resize, crop = dataset['dataset']['pipeline'][1:3]
        assert (resize['size'], crop['crop_size']) == (256, size)


def test_smoke_pretraining_runs_without_the_monitor_and_keeps_its_other_hooks():
    base = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', 'ijepa_vitb16_in1k.py'))
    others = [h for h in base.custom_hooks if h['type'] != 'KNNMonitorHook']
    smoke = [p for pattern in ('*_synth*.py', 'ablations/*_synth*.py')  # the ablation rows' too
             for p in glob.glob(osp.join(ROOT, 'configs', 'pretrain', pattern))]
    assert len(smoke) == 14
    for name in smoke:
        cfg = Config.fromfile(name)
        assert cfg.custom_hooks == others, name
        assert cfg.custom_imports.imports == ['engine.checkpoint', 'pretrain'], name


# --- tools/test.py and the monitor in real runs ---------------------------------------------------

@pytest.fixture(scope='module')
def labelled_imagenet(tmp_path_factory) -> str:
    """Synthetic ImageNet folders with train (64 images) and val (21, an odd number)."""
    from synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('labelled_imagenet'))
    make_imagenet(root, num_train=64, num_val=21, seed=0)
    return root


def _one_thread(fn):
    """``fn()`` on one CPU thread, as each of two torchrun workers and the runs below compute."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def _features_by_hand(encoder: nn.Module, loader_cfg: dict, readouts) -> tuple:
    """Features (per readout) and labels of a dataloader config's images, in its batches."""
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batches = [(probe_features(encoder, b['inputs'], readouts), b['data_samples'])
               for b in loader]
    return ({r: torch.cat([f[r] for f, _ in batches]) for r in readouts},
            torch.cat([y for _, y in batches]))


def _dumping_config(tmp_path, base: str, out: str) -> str:
    """``base`` with its predictions dumped to ``out`` besides its metrics."""
    path = tmp_path / 'dump.py'
    path.write_text(f"_base_ = {base!r}\ntest_evaluator = [dict(type='ProbeAccuracy', "
                    f"prefix='accuracy'), dict(type='DumpResults', out_file_path={out!r})]\n")
    return str(path)


@pytest.fixture(scope='module')
def one_process_knn(labelled_imagenet, tmp_path_factory) -> dict:
    """tools/test.py on the DSeq-JEPA smoke config without CHECKPOINT, its encoder's init_cfg
    pointing at the weights of a random tiny ViT: the run's work dir, weights and predictions."""
    tmp = tmp_path_factory.mktemp('knn_one_process')
    cfg = Config.fromfile(SMOKE['dseq'])
    torch.manual_seed(0)
    weights = str(tmp / 'encoder.pth')
    torch.save(MODELS.build(dict(cfg.model.backbone, init_cfg=None)).state_dict(), weights)
    config = _dumping_config(tmp, SMOKE['dseq'], str(tmp / 'preds.pkl'))
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=labelled_imagenet, OMP_NUM_THREADS='1')
    run_tool('test.py', config, '--work-dir', str(tmp / 'work'), '--cfg-options',
             f'model.backbone.init_cfg.checkpoint={weights}', env=env)
    with open(tmp / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    return dict(work_dir=str(tmp / 'work'), weights=weights, preds=preds)


@pytest.mark.slow
def test_tools_test_without_a_checkpoint_equals_knn_by_hand(one_process_knn, labelled_imagenet,
                                                            monkeypatch):
    monkeypatch.setenv('SYNTH_IMAGENET_ROOT', labelled_imagenet)
    cfg = Config.fromfile(SMOKE['dseq'])
    weights = dict(type='Pretrained', checkpoint=one_process_knn['weights'])
    encoder = MODELS.build(dict(cfg.model.backbone, init_cfg=weights))
    encoder.init_weights()
    encoder.eval()
    readouts = cfg.model.readouts

    def by_hand():
        bank, bank_labels = _features_by_hand(encoder, training_split(cfg.test_dataloader),
                                              readouts)
        queries, labels = _features_by_hand(encoder, cfg.test_dataloader, readouts)
        return {r: knn_classify(bank[r], bank_labels, queries[r], cfg.num_classes).tolist()
                for r in readouts}, labels.tolist()
    preds, labels = _one_thread(by_hand)

    metrics = metrics_of_test_run(one_process_knn['work_dir'])
    assert metrics['accuracy/num_samples'] == len(labels) == 21
    dumped = one_process_knn['preds']
    assert [s['gt'] for s in dumped] == labels
    for r in readouts:
        assert [s['pred'][r] for s in dumped] == preds[r], r
        top1 = 100.0 * sum(p == y for p, y in zip(preds[r], labels)) / len(labels)
        assert metrics[f'accuracy/top1_{r}'] == pytest.approx(top1, abs=1e-9), r
    # the test's per-image records, in its run's folder: each query's correctness, paired by its
    # path under the data root and its label
    (run,) = glob.glob(osp.join(one_process_knn['work_dir'], '*', 'vis_data'))
    recorded = run_records(osp.dirname(run))
    counts = np.random.default_rng(0).integers(0, 3, len(labels))
    images = [osp.relpath(p, labelled_imagenet) for p in
              sorted(glob.glob(osp.join(labelled_imagenet, 'val', '*', '*.JPEG')))]
    for r in readouts:
        record, right = recorded[f'accuracy/top1_{r}'], np.equal(preds[r], labels)
        assert record.keys.tolist() == [f'{p}#{y}' for p, y in zip(images, labels)]
        assert record.value == metrics[f'accuracy/top1_{r}']
        assert record.metric(np.ones(len(labels))) == pytest.approx(record.value, abs=1e-12)
        assert record.metric(counts) == pytest.approx(100 * counts @ right / counts.sum(),
                                                      abs=1e-12)


@pytest.mark.slow
def test_two_gloo_processes_predict_what_one_process_does(one_process_knn, labelled_imagenet,
                                                          tmp_path):
    config = _dumping_config(tmp_path, SMOKE['dseq'], str(tmp_path / 'preds.pkl'))
    with socket.socket() as s:  # torchrun's rendezvous port: one that is free
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_test.sh'), config, '2', '--work-dir',
         str(tmp_path / 'work'), '--cfg-options',
         f"model.backbone.init_cfg.checkpoint={one_process_knn['weights']}"],
        cwd=ROOT, capture_output=True, text=True,
        env=dict(os.environ, SYNTH_IMAGENET_ROOT=labelled_imagenet, PORT=port))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        assert pickle.load(f) == one_process_knn['preds']  # 21 queries: one rank's shard padded
    two, one = ({k: v for k, v in metrics_of_test_run(d).items() if k.startswith('accuracy/')}
                for d in (str(tmp_path / 'work'), one_process_knn['work_dir']))
    assert two == one and one['accuracy/num_samples'] == 21


def _monitor_loader(root: str, split: str) -> dict:
    """A dataloader config of a split at the smoke encoder's 96x96."""
    pipeline = [dict(type='LoadRGBImage'), dict(type='ResizeShortEdge', size=110),
                dict(type='CenterCrop', crop_size=96), dict(type='PackProbeInputs')]
    return dict(batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                dataset=dict(type='ImageNetDataset', data_root=root, split=split,
                             pipeline=pipeline))


@pytest.mark.slow
def test_the_monitor_logs_knn_top1_and_leaves_training_bit_identical(labelled_imagenet, tmp_path):
    options = ('train_cfg.max_epochs=3', 'default_hooks.logger.interval=1')
    loaders = {s: _monitor_loader(labelled_imagenet, s) for s in ('train', 'val')}
    monitor = repr(dict(type='KNNMonitorHook', interval=2, k=10, bank_dataloader=loaders['train'],
                        query_dataloader=loaders['val']))
    runs = {}
    for name, hooks in (('plain', ()), ('monitored', (monitor,))):
        (tmp_path / name).mkdir()
        config = config_with_hooks(tmp_path / name, *hooks, imports=['transfer'])
        runs[name] = run_pretraining(tmp_path / name / 'work', labelled_imagenet, *options,
                                     config=config)
    plain, monitored = tmp_path / 'plain' / 'work', tmp_path / 'monitored' / 'work'
    assert last_run_logged(monitored) == last_run_logged(plain)  # 12 steps, bit for bit
    final = {n: load_from_local_safely(str(tmp_path / n / 'work' / 'iter_12.pth'))['state_dict']
             for n in runs}
    assert all(torch.equal(final['plain'][k], final['monitored'][k]) for k in final['plain'])

    # 4 steps an epoch: after epoch 2 (step 8) and after the last step (epoch 3)
    out = runs['monitored'].stdout + runs['monitored'].stderr
    assert out.count('kNN monitor after epoch') == 2 and 'after epoch 3:' in out
    rows = [r for r in logged_scalars(str(monitored)) if 'loss' in r]
    assert [r['step'] for r in rows if 'knn_top1' in r] == list(range(8, 13))
    encoder = VisionTransformer(embed_dim=64, depth=4, num_heads=4, img_size=96, patch_size=8)
    encoder.load_state_dict({k[len('target_encoder.'):]: v for k, v in final['monitored'].items()
                             if k.startswith('target_encoder.')})
    encoder.eval()
    bank, bank_labels = _features_by_hand(encoder, loaders['train'], ('avg',))
    queries, labels = _features_by_hand(encoder, loaders['val'], ('avg',))
    preds = knn_classify(bank['avg'], bank_labels, queries['avg'], 3, k=10)
    assert rows[-1]['knn_top1'] == 100.0 * (preds == labels).double().mean().item()

    # what the monitor cost this run (printed: pytest -s); the logged time of a step is the mean
    # over the log window (50 steps), so the last one's times 12 is the whole run's
    seconds = rows[7]['knn_seconds'] + rows[11]['knn_seconds']
    train = 12 * [r for r in logged_scalars(str(plain)) if 'loss' in r][-1]['time']
    monitor_rate, train_rate = 2 * (64 + 21) / seconds, 12 * 16 / train
    # ImageNet: a 10% bank and 10,000 queries every 25 epochs of 1,281,167 images
    imagenet = (0.1 * 1281167 + 10000) / monitor_rate / (25 * 1281167 / train_rate)
    print(f'\nkNN monitor: {seconds:.2f} s for 2 evaluations of 64 + 21 images '
          f'({monitor_rate:.0f} images/s); training without it: {train:.2f} s for 12 steps of 16 '
          f'images ({train_rate:.0f} images/s); this run {seconds / train:.1%}, at these rates '
          f'on ImageNet {imagenet:.2%}')


def test_the_default_bank_needs_a_dataset_that_names_its_training_split():
    loader = dict(batch_size=2, dataset=dict(type='ImageNetDataset', data_root='x', split='val'))
    assert training_split(loader).dataset == dict(loader['dataset'], split='train')
    with pytest.raises(ValueError, match='give the bank dataloader'):
        training_split(dict(loader, dataset=dict(type='ClassBalancedSubset', dataset={})))
