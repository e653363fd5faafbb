"""MSN's few-shot logistic regression: its features (the last block without the final norm), the
preprocessing by hand, the fit against the gradient of MSN's objective (torch autograd),
determinism, MSN's list names, the mean over draws, the refusal of several processes, and the tiny
config through tools/test.py against the same computation by hand, encoding only the drawn
images."""
import glob
import math
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.datasets as tvd
from mmengine import dist
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner

from engine.records import correctness
from suite.results import run_records
from tests.helpers import ROOT, metrics_of_test_run, run_tool
from transfer.classification import ImageNetDataset, IndexedSubset, training_split
from transfer.features import probe_features
from transfer.few_shot import (MSN_LAMBDA, FewShotAccuracy, FewShotTestLoop, centre_and_normalise,
                               draw_subsets, fit_logistic, head_name, msn_subset_file)

SMOKE = {m: osp.join(ROOT, 'configs', 'lowshot', f'logistic_{m}-vittiny_1-2-5shot_synthimagenet.py')
         for m in ('ijepa', 'dseq')}


def _clusters(per_class: int, classes: int = 4, dim: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    return torch.randn(len(labels), dim, generator=g, dtype=torch.float64) + 2, labels


def test_each_sample_is_centred_by_its_own_mean_and_scaled_to_unit_norm():
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(1)) * 3 + 1
    out = centre_and_normalise(x)
    for row, got in zip(x.tolist(), out.tolist()):
        mean = sum(row) / len(row)
        centred = [v - mean for v in row]
        norm = math.sqrt(sum(v * v for v in centred))
        assert got == pytest.approx([v / norm for v in centred], abs=1e-12)
    assert out.dtype == torch.float64


@pytest.mark.parametrize('lambd', [MSN_LAMBDA, 0.3])
@pytest.mark.parametrize('per_class', [1, 2, 5])
def test_the_fit_is_the_stationary_point_of_msns_objective(lambd, per_class):
    """MSN hands cyanure mean CE + (lambd / n) / 2 ||W||^2 on preprocessed features, no
    intercept: its gradient (torch autograd) vanishes at the fitted weights, and that of the same
    loss with the penalty lambd / 2 ||W||^2 (lambd not divided by n) does not."""
    x, y = _clusters(per_class)
    weights, _ = fit_logistic(x, y, 4, lambd)
    assert weights.shape == (4, 10)

    def gradient(strength):
        w = weights.clone().requires_grad_(True)
        loss = F.cross_entropy(centre_and_normalise(x) @ w.T, y) + strength / 2 * (w ** 2).sum()
        return torch.autograd.grad(loss, w)[0].abs().max().item()
    right, wrong = gradient(lambd / len(y)), gradient(lambd)
    assert right < 1e-7
    assert wrong > 1e-5 and wrong > 1000 * right


def test_the_fit_is_deterministic():
    x, y = _clusters(5, classes=6, dim=32, seed=2)
    first, iters = fit_logistic(x, y, 6)
    again, iters_again = fit_logistic(x, y, 6)
    assert torch.equal(first, again) and iters == iters_again


def test_a_fit_without_every_class_or_with_two_classes_is_refused():
    x, y = _clusters(2)
    with pytest.raises(ValueError, match='3 of 4 classes'):
        fit_logistic(x[y != 2], y[y != 2], 4)
    with pytest.raises(ValueError, match='at least 3 classes'):
        fit_logistic(x[y < 2], y[y < 2], 2)


def test_the_features_are_the_last_blocks_cls_and_average_without_the_final_norm():
    """MSN reads the last block's CLS token as the block outputs it, before the final norm, and
    the average of the patch tokens is read alike (by default); final_norm=True reads both after
    it, as the other probes do."""
    cfg = Config.fromfile(SMOKE['dseq'])
    torch.manual_seed(0)
    default = {k: v for k, v in cfg.model.items() if k != 'final_norm'}
    model = MODELS.build(default).eval()
    normed = MODELS.build(dict(default, final_norm=True)).eval()
    normed.backbone.load_state_dict(model.backbone.state_dict())
    backbone = model.backbone
    # a non-trivial final norm, so that reading before or after it cannot agree by chance
    with torch.no_grad():
        for encoder in (backbone, normed.backbone):
            encoder.norm.weight.copy_(torch.linspace(0.5, 2.0, encoder.norm.weight.numel()))
            encoder.norm.bias.fill_(0.3)
    images = torch.randn(2, 3, 192, 192)  # float images: taken as normalised already
    with torch.no_grad():
        (raw,) = backbone.forward_intermediates(images, [backbone.depth - 1], norm=False,
                                                return_prefix_tokens=True, output_fmt='NLC',
                                                intermediates_only=True)
        (after,) = backbone.forward_intermediates(images, [backbone.depth - 1], norm=True,
                                                  return_prefix_tokens=True, output_fmt='NLC',
                                                  intermediates_only=True)
    (patches, prefix), (normed_patches, normed_prefix) = raw, after
    got, got_normed = model.extract(images), normed.extract(images)
    assert model.final_norm is False and normed.final_norm is True
    torch.testing.assert_close(got['cls'], prefix[:, 0], rtol=0, atol=1e-6)
    torch.testing.assert_close(got['avg'], patches.mean(1), rtol=0, atol=1e-6)
    torch.testing.assert_close(got_normed['cls'], backbone.fc_norm(normed_prefix[:, 0]), rtol=0,
                               atol=1e-6)
    torch.testing.assert_close(got_normed['avg'], backbone.fc_norm(normed_patches.mean(1)),
                               rtol=0, atol=1e-6)
    for r in ('cls', 'avg'):
        assert (got[r] - got_normed[r]).abs().max() > 0.1, r


def test_more_than_one_process_is_refused(monkeypatch):
    """Each process would repeat every fit: the loop runs in one."""
    monkeypatch.setattr(dist, 'get_world_size', lambda group=None: 2)
    with pytest.raises(RuntimeError, match=r'runs in one process \(python tools/test.py CONFIG\), '
                                           r'not 2'):
        FewShotTestLoop(None, {}, None)


def test_readouts_of_one_vector_per_token_are_refused():
    cfg = Config.fromfile(SMOKE['dseq'])
    with pytest.raises(ValueError, match="readouts \\['patches'\\] give a feature per token"):
        MODELS.build(dict(cfg.model, readouts=('avg', 'patches')))


def test_msn_lists_are_named_as_msn_ships_them():
    files = {(k, d): msn_subset_file('/msn/', k, d) for k in (1, 2, 5) for d in range(3)}
    assert files[1, 0] == '/msn/imagenet_subsets1/1imgs_class.txt'
    assert files[2, 1] == '/msn/imagenet_subsets2/2imgs_class.txt'
    assert files[5, 1] == '/msn/imagenet_subsets2/5imgs_class.txt'
    assert files[5, 2] == '/msn/imagenet_subsets3/3imgs_class.txt'  # its 5-per-class list
    with pytest.raises(KeyError):
        msn_subset_file('/msn', 3, 0)


def test_the_accuracy_reports_each_draw_and_their_mean(monkeypatch):
    MMLogger.get_instance('few_shot_metric_no_run')  # outside a run: no records
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, 40)
    heads = [head_name(k, r, d) for k in (1, 5) for r in ('avg', 'cls') for d in range(3)]
    preds = {h: rng.integers(0, 3, 40) for h in heads}
    metric = FewShotAccuracy()
    metric.process({}, [dict(gt=int(y), pred={h: int(preds[h][i]) for h in heads})
                        for i, y in enumerate(gt)])
    out = metric.compute_metrics(metric.results)
    for h in heads:
        assert out[f'top1_{h}'] == pytest.approx(100 * np.mean(preds[h] == gt))
    for k in (1, 5):
        for r in ('avg', 'cls'):
            draws = [100 * np.mean(preds[head_name(k, r, d)] == gt) for d in range(3)]
            assert out[f'top1_{k}shot_{r}'] == pytest.approx(np.mean(draws))


# --- the loop ---------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def imagenet(tmp_path_factory) -> str:
    """Synthetic ImageNet folders: 150 train (50 a class: more than all draws together) and 21
    val images."""
    from synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('few_shot_imagenet'))
    make_imagenet(root, num_train=150, num_val=21, seed=0)
    return root


def test_msn_lists_give_the_draws_and_a_list_of_other_counts_is_refused(imagenet, tmp_path):
    MMLogger.get_instance('few_shot_lists_no_run')
    train = ImageNetDataset(imagenet, 'train')
    by_class = {}
    for path, label in tvd.ImageFolder(osp.join(imagenet, 'train')).samples:
        by_class.setdefault(label, []).append(osp.basename(path))
    expected = {}
    for d in range(3):
        for k in (1, 2, 5):
            names = [n for label in sorted(by_class) for n in by_class[label][d * 5:d * 5 + k]]
            path = msn_subset_file(str(tmp_path), k, d)
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write('\n'.join(names) + '\n')
            expected[k, d] = sorted(names)
    draws = draw_subsets(train, (1, 2, 5), 3, 3, str(tmp_path))
    assert {key: sorted(osp.basename(train.get_data_info(i)['img_path']) for i in indices)
            for key, indices in draws.items()} == expected
    with open(msn_subset_file(str(tmp_path), 5, 2), 'a') as f:
        f.write(by_class[0][40] + '\n')  # a sixth image of class 0
    with pytest.raises(ValueError, match='3imgs_class.txt: expected 5 images of each of the 3 '
                                         'classes; 1 classes have others, e.g. class 0 has 6'):
        draw_subsets(train, (1, 2, 5), 3, 3, str(tmp_path))


@pytest.fixture(scope='module')
def tiny_run(imagenet, tmp_path_factory) -> dict:
    """tools/test.py on the DSeq-JEPA smoke config without CHECKPOINT, its encoder's init_cfg
    pointing at the weights of a random tiny ViT."""
    tmp = tmp_path_factory.mktemp('few_shot_run')
    cfg = Config.fromfile(SMOKE['dseq'])
    torch.manual_seed(0)
    weights = str(tmp / 'encoder.pth')
    torch.save(MODELS.build(dict(cfg.model.backbone, init_cfg=None)).state_dict(), weights)
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=imagenet, OMP_NUM_THREADS='1')
    output = run_tool('test.py', SMOKE['dseq'], '--work-dir', str(tmp / 'work'), '--cfg-options',
                      f'model.backbone.init_cfg.checkpoint={weights}', env=env)
    (run,) = glob.glob(osp.join(tmp, 'work', '*', 'vis_data'))
    return dict(work_dir=str(tmp / 'work'), run=osp.dirname(run), weights=weights, log=output)


def _encode(encoder, loader_cfg: dict, readouts, norm: bool) -> tuple:
    """Features (per readout, after the final norm or not) and labels of a dataloader config's
    images, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        batches = [(probe_features(encoder, b['inputs'], readouts, norm=norm), b['data_samples'])
                   for b in Runner.build_dataloader(loader_cfg, seed=0)]
    finally:
        torch.set_num_threads(threads)
    return ({r: torch.cat([f[r] for f, _ in batches]) for r in readouts},
            torch.cat([y for _, y in batches]))


@pytest.mark.slow
def test_tools_test_fits_on_the_drawn_images_alone_and_reports_by_hand(tiny_run, imagenet,
                                                                      monkeypatch):
    monkeypatch.setenv('SYNTH_IMAGENET_ROOT', imagenet)
    cfg = Config.fromfile(SMOKE['dseq'])
    readouts = cfg.model.readouts
    encoder = MODELS.build(dict(cfg.model.backbone, init_cfg=dict(
        type='Pretrained', checkpoint=tiny_run['weights'])))
    encoder.init_weights()
    encoder.eval()
    # the draws the run wrote into its folder, 3 per shot count, each that many of each class
    loader = training_split(cfg.test_dataloader)
    train = DATASETS.build(loader.dataset)  # the training images through the test pipeline
    names = {osp.basename(train.get_data_info(i)['img_path']): i for i in range(len(train))}
    draws = {}
    for k in (1, 2, 5):
        for d in range(3):
            with open(osp.join(tiny_run['run'], f'subset_{k}imgs_class_seed{d}.txt')) as f:
                draws[k, d] = sorted(names[n] for n in f.read().split())
            assert np.bincount([train.get_data_info(i)['gt_label'] for i in draws[k, d]]) \
                .tolist() == [k] * 3
    assert len({tuple(v) for v in draws.values()}) == 9  # each draw its own images
    # only their union was encoded, not the 150 training images
    union = sorted(set().union(*draws.values()))
    assert len(union) < len(train)
    assert f'few-shot: encoding the {len(union)} training images of 9 draws' in tiny_run['log']
    assert f'encoded {math.ceil(len(union) / 16)}/{math.ceil(len(union) / 16)} batches' in \
        tiny_run['log']

    assert cfg.model.final_norm is False  # MSN's features: the blocks' raw outputs
    features, labels = _encode(encoder, dict(loader, dataset=IndexedSubset(
        train, union)), readouts, norm=False)
    queries, truth = _encode(encoder, cfg.test_dataloader, readouts, norm=False)
    row = {index: i for i, index in enumerate(union)}
    metrics = metrics_of_test_run(tiny_run['work_dir'])
    records = run_records(tiny_run['run'])
    for (k, d), indices in draws.items():
        rows = torch.tensor([row[i] for i in indices])
        for r in readouts:
            weights, _ = fit_logistic(features[r][rows], labels[rows], 3)
            right = ((centre_and_normalise(queries[r]) @ weights.T).argmax(1) == truth).numpy()
            key = f'fewshot/top1_{head_name(k, r, d)}'
            assert metrics[key] == pytest.approx(100 * right.mean(), abs=1e-9), key
            record = records[key]
            assert record.value == metrics[key]
            assert record.metric(np.ones(len(right))) == pytest.approx(record.value, abs=1e-12)
            assert record.keys[0].startswith('val/') and len(record.keys) == 21
    for k in (1, 2, 5):
        for r in readouts:
            per_draw = [records[f'fewshot/top1_{head_name(k, r, d)}'] for d in range(3)]
            mean = np.mean([metrics[f'fewshot/top1_{head_name(k, r, d)}'] for d in range(3)])
            key = f'fewshot/top1_{k}shot_{r}'
            assert metrics[key] == pytest.approx(mean, abs=1e-9)
            # the mean's records: each image's correctness averaged over the draws, so a
            # resample of the images gives the mean of the draws' values on that resample
            counts = np.random.default_rng(k).integers(0, 3, len(per_draw[0].keys)).astype(float)
            assert records[key].value == metrics[key]
            assert records[key].metric(counts) == pytest.approx(
                np.mean([r_.metric(counts) for r_ in per_draw]), abs=1e-9)
    # what the leaderboard reads: every reported row of this readout set is logged
    reported = {key for key in cfg.report.metrics if re.search(f'_({"|".join(readouts)})$', key)}
    assert reported <= set(metrics) and cfg.report.protocol == 'top-1 5-shot cls'


def test_the_configs_read_test_crops_for_training_and_differ_by_method_as_knns_do():
    leaves = ((256, 224, 'vitb16_1-2-5shot_in1k'), (256, 224, 'vith14_1-2-5shot_in1k'),
              (219, 192, 'vittiny_1-2-5shot_synthimagenet'))
    for size, crop, leaf in leaves:
        cfgs = {m: Config.fromfile(osp.join(ROOT, 'configs', 'lowshot', f'logistic_{m}-{leaf}.py'))
                for m in ('ijepa', 'dseq')}
        for cfg in cfgs.values():
            pipeline = training_split(cfg.test_dataloader).dataset.pipeline
            assert [t['type'] for t in pipeline] == ['LoadRGBImage', 'ResizeShortEdge',
                                                     'CenterCrop', 'PackProbeInputs']
            assert (pipeline[1]['size'], pipeline[2]['crop_size']) == (size, crop)
            assert cfg.test_cfg.type == 'FewShotTestLoop' and cfg.test_cfg.shots == (1, 2, 5)
            assert cfg.model.lambd == MSN_LAMBDA and cfg.model.max_iter == 300
            assert cfg.model.final_norm is False  # MSN reads the CLS token before the norm
            assert cfg.report.input_size == (crop, crop) and cfg.train_dataloader is None
        assert cfgs['ijepa'].model.readouts == ('avg',)
        assert cfgs['dseq'].model.readouts == ('avg', 'cls')
        assert cfgs['dseq'].model.backbone.use_cls_token and cfgs['dseq'].pretrain_method == 'dseq'
        assert (cfgs['ijepa'].report.protocol, cfgs['dseq'].report.protocol) == \
            ('top-1 5-shot avg', 'top-1 5-shot cls')


def test_top1_records_keep_fractions_and_refuse_values_outside_0_1():
    assert correctness([True, False]).dtype == bool
    np.testing.assert_array_equal(correctness([0.0, 1 / 3, 1.0]), [0.0, 1 / 3, 1.0])
    with pytest.raises(ValueError, match=r'^correctness: .*fractions in \[0, 1\]'):
        correctness([0.5, 2.0])
