"""The attentive probes (SPEC section 4f): both poolers against forwards written out here, their
initialisation, the frozen encoder, token features through the feature cache and store, the grid's
param groups and per-head clipping, the recipes as the configs build them, and a smoke config
through the tools."""
import copy
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

import backbones  # noqa: F401  (registers JEPAViT)
from suite.results import run_records
from tests.helpers import ROOT, metrics_of_test_run, run_tool
from transfer.attentive import (AttentiveClassifier, AttentiveHeadsOptimWrapperConstructor,
                                AttentivePooler, AttentiveProbe, EfficientProbe)
from transfer.feature_cache import FeatureCache, heldout_part
from transfer.feature_store import FeatureStore

TINY = dict(type='JEPAViT', arch='b', embed_dim=32, depth=4, num_heads=2, img_size=32,
            patch_size=16, use_cls_token=True)
VJEPA = dict(kind='vjepa', depth=1, num_heads=2)
EFFICIENT = dict(kind='efficient', num_queries=8)
CONFIGS = osp.join(ROOT, 'configs', 'attentive')
ONE_THREAD = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def attend(q, k, v, heads):
    """Softmax attention written out: q (B, Q, D), k and v (B, N, D), ``heads`` heads."""
    q, k, v = (t.unflatten(-1, (heads, -1)) for t in (q, k, v))  # (B, L, H, D / H)
    logits = torch.einsum('bqhc,bnhc->bhqn', q, k) / q.shape[-1] ** 0.5
    return torch.einsum('bhqn,bnhc->bqhc', logits.softmax(-1), v).flatten(2)


def layer_norm(norm, x):
    return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.eps)


def mlp(m, x):
    return F.linear(F.gelu(F.linear(x, m.fc1.weight, m.fc1.bias)), m.fc2.weight, m.fc2.bias)


def self_block(b, x, heads):
    """A pre-norm transformer block (the encoder's Block) by hand."""
    h = layer_norm(b.norm1, x)
    q, k, v = F.linear(h, b.attn.qkv.weight, b.attn.qkv.bias).chunk(3, -1)
    x = x + F.linear(attend(q, k, v, heads), b.attn.proj.weight, b.attn.proj.bias)
    return x + mlp(b.mlp, layer_norm(b.norm2, x))


def pooler_reference(p: AttentivePooler, tokens, heads):
    for block in p.blocks:
        tokens = self_block(block, tokens, heads)
    c = p.cross_block
    t = layer_norm(c.norm1, tokens)
    queries = p.queries.expand(len(tokens), -1, -1)
    q = F.linear(queries, c.xattn.q.weight, c.xattn.q.bias)
    k, v = F.linear(t, c.xattn.kv.weight, c.xattn.kv.bias).chunk(2, -1)
    queries = queries + attend(q, k, v, heads)  # no output projection
    return queries + mlp(c.mlp, layer_norm(c.norm2, queries))


@pytest.mark.parametrize('depth', [1, 3])
def test_vjepa_pooler_matches_a_written_out_forward(depth):
    torch.manual_seed(0)
    head = AttentiveClassifier(24, num_classes=5, num_heads=3, depth=depth).eval()
    for p in head.parameters():  # away from the initialisation's zero biases and unit norms
        p.data.add_(0.1 * torch.randn_like(p))
    tokens = torch.randn(4, 7, 24)
    pooled = pooler_reference(head.pooler, tokens, 3)
    assert pooled.shape == (4, 1, 24)
    expected = F.linear(pooled[:, 0], head.linear.weight, head.linear.bias)
    torch.testing.assert_close(head(tokens), expected, rtol=1e-4, atol=1e-5)


def test_efficient_probe_matches_a_written_out_forward():
    torch.manual_seed(0)
    dim, queries = 24, 4
    head = EfficientProbe(dim, num_classes=5, num_queries=queries).train()
    tokens = torch.randn(6, 7, dim)
    assert head.value.bias is None  # as EP's value projection
    values = F.linear(tokens, head.value.weight)
    group = dim // queries
    pooled = []
    for i in range(queries):  # query i: softmax over the tokens of <query, raw token> / sqrt(D)
        weights = torch.softmax(tokens @ head.queries[i] / dim ** 0.5, dim=1)  # (B, N)
        pooled.append((weights[..., None] * values[..., i * group:(i + 1) * group]).sum(1))
    pooled = torch.cat(pooled, 1)
    # BatchNorm without affine parameters, in training: the batch's statistics
    normed = (pooled - pooled.mean(0)) / torch.sqrt(pooled.var(0, unbiased=False) + 1e-5)
    expected = F.linear(normed, head.linear.weight, head.linear.bias)
    torch.testing.assert_close(head(tokens), expected, rtol=1e-4, atol=1e-5)
    assert head.norm.weight is None and head.norm.bias is None


@pytest.mark.parametrize('depth', [1, 4])
def test_pooler_initialisation_rescales_residual_outputs_as_vjepa2(depth):
    torch.manual_seed(0)
    p = AttentivePooler(384, num_heads=6, depth=depth)

    def std(weight):
        return weight.detach().std().item()
    assert std(p.queries) == pytest.approx(0.02, rel=0.05)
    assert std(p.cross_block.xattn.kv.weight) == pytest.approx(0.02, rel=0.05)
    for layer_id, block in enumerate(p.blocks, start=1):
        for weight in (block.attn.proj.weight, block.mlp.fc2.weight):
            assert std(weight) == pytest.approx(0.02 / (2 * layer_id) ** 0.5, rel=0.05)
        assert std(block.mlp.fc1.weight) == pytest.approx(0.02, rel=0.05)
    # V-JEPA 2: the cross-attention block takes the last self-attention block's layer id, depth - 1
    # (1 where there is none), not depth
    cross_id = max(depth - 1, 1)
    assert std(p.cross_block.mlp.fc2.weight) == pytest.approx(0.02 / (2 * cross_id) ** 0.5,
                                                              rel=0.05)
    assert all(not b.detach().any() for n, b in p.named_parameters() if n.endswith('.bias'))


def probe(pooler=VJEPA, readouts=('patches', 'cls_patches'), grid=None) -> AttentiveProbe:
    torch.manual_seed(0)
    return AttentiveProbe(TINY, num_classes=4, pooler=pooler, readouts=readouts, head_grid=grid)


@pytest.mark.parametrize('pooler', [VJEPA, EFFICIENT], ids=['vjepa', 'efficient'])
def test_training_leaves_the_frozen_encoder_untouched(pooler):
    model = probe(pooler).train()
    before = copy.deepcopy(model.backbone.state_dict())
    assert not model.backbone.training and all(h.training for h in model.heads.values())
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 3])
    heads_before = copy.deepcopy(model.heads.state_dict())
    for _ in range(2):
        optimizer.zero_grad()
        losses = model(images, labels, mode='loss')
        assert set(losses) == {'loss_patches', 'loss_cls_patches'}
        sum(losses.values()).backward()
        assert all(p.grad is None for p in model.backbone.parameters())
        optimizer.step()
    assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in before.items())
    assert any(not torch.equal(v, model.heads.state_dict()[k]) for k, v in heads_before.items())


def test_heads_read_the_readout_tokens():
    model = probe(readouts=('cls_patches',)).eval()
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    seen = []
    model.heads['cls_patches'].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model(images, mode='tensor')
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    with torch.no_grad():
        tokens = model.backbone.forward_features((images.float() - mean) / std)  # final norm
    torch.testing.assert_close(seen[0], tokens)  # CLS, then the 4 patch tokens


def test_refusals():
    with pytest.raises(KeyError, match='pools tokens'):
        probe(readouts=('avg',))
    with pytest.raises(KeyError, match='kind'):
        probe(pooler=dict(kind='mean'))
    with pytest.raises(ValueError, match='divide'):
        probe(pooler=dict(kind='efficient', num_queries=5))


class TokenImages(torch.utils.data.Dataset):
    """Images with a feature key, as the feature store needs."""

    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        self.labels = [i % 4 for i in range(n)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return dict(inputs=self.images[i], data_samples=torch.tensor(self.labels[i]))

    def feature_key(self):
        return 'token-images-5'


def test_token_features_pass_the_cache_and_the_store_unchanged(tmp_path):
    model = probe().eval()
    dataset = TokenImages(5)
    logger = MMLogger.get_instance('attentive_cache_test')
    store = FeatureStore(str(tmp_path), dict(backbone=TINY))
    encoded = FeatureCache(DataLoader(dataset, batch_size=2), 'float32', store)
    encoded.fill(model, logger)
    with torch.no_grad():
        expected = model.extract(dataset.images)
    assert {k: v.shape for k, v in encoded.features.items()} == \
        {'patches': (5, 4, 32), 'cls_patches': (5, 5, 32)}
    for k, v in expected.items():
        torch.testing.assert_close(encoded.features[k], v)
    loaded = FeatureCache(DataLoader(dataset, batch_size=2), 'float32', store)
    loaded.fill(model, logger)  # from the store this time
    assert len(os.listdir(tmp_path)) == 1
    batch = loaded.__getitems__([3, 1])
    for k in expected:  # bit for bit what was encoded
        assert torch.equal(batch['inputs'][k], encoded.features[k][[3, 1]])
    assert batch['data_samples'].tolist() == [3, 1]


GRID = dict(lr_scales=(0.5, 2.0), weight_decays=(0.0, 0.1))


def grid_wrapper(model, clip=None):
    wrapper = dict(type='HeadwiseClipOptimWrapper',
                   optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.05))
    if clip:
        wrapper['clip_grad'] = dict(max_norm=clip)
    return AttentiveHeadsOptimWrapperConstructor(wrapper)(model)


def test_each_grid_head_has_its_groups_without_decay_on_biases_and_1d():
    model = probe(EFFICIENT, readouts=('patches',), grid=GRID)
    groups = grid_wrapper(model).optimizer.param_groups
    assert len(model.heads) == 4 and len(groups) == 8
    for name, spec in model.head_specs.items():
        mine = [g for g in groups if g['head'] == name]
        assert len(mine) == 2
        assert all(g['lr'] == pytest.approx(0.01 * spec.lr_scale) for g in mine)
        named = dict(model.heads[name].named_parameters())
        decayed, plain = ([n for n, p in named.items() if any(p is q for q in g['params'])]
                          for g in mine)
        assert sorted(decayed) == ['linear.weight', 'queries', 'value.weight']
        assert sorted(plain) == ['linear.bias']
        assert (mine[0]['weight_decay'], mine[1]['weight_decay']) == (spec.weight_decay, 0.0)
    assert not {id(p) for p in model.backbone.parameters()} & \
        {id(p) for g in groups for p in g['params']}


def test_vjepa_head_keeps_weight_decay_off_its_norms_and_biases():
    model = probe(VJEPA, readouts=('patches',))
    groups = grid_wrapper(model).optimizer.param_groups
    names = {id(p): n for n, p in model.heads.named_parameters()}
    decayed, plain = ({names[id(p)] for p in g['params']} for g in groups)
    assert {n for n in plain if not n.endswith('.bias')} == \
        {n for n in names.values() if '.norm' in n and n.endswith('.weight')}
    assert {n.rsplit('.', 1)[-1] for n in decayed} == {'weight', 'queries'}
    assert not any('norm' in n for n in decayed)


def test_grid_heads_train_as_if_each_were_alone_gradients_clipped_per_head():
    model = probe(VJEPA, readouts=('patches',), grid=GRID).train()
    wrapper = grid_wrapper(model, clip=0.05)  # small: every head's gradient is clipped
    alone = {}
    for name, spec in model.head_specs.items():
        head = copy.deepcopy(model.heads[name])
        named = list(head.named_parameters())
        decayed = [p for n, p in named if p.ndim > 1 and not n.endswith('bias')]
        plain = [p for n, p in named if p.ndim <= 1 or n.endswith('bias')]
        alone[name] = (head, torch.optim.AdamW(
            [dict(params=decayed, weight_decay=spec.weight_decay),
             dict(params=plain, weight_decay=0.0)], lr=0.01 * spec.lr_scale))
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        tokens = torch.randn(6, 4, 32, generator=g)
        labels = torch.randint(0, 4, (6,), generator=g)
        wrapper.update_params(sum(model(dict(patches=tokens), labels, mode='loss').values()))
        for head, optimizer in alone.values():
            optimizer.zero_grad()
            F.cross_entropy(head(tokens), labels).backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 0.05)
            optimizer.step()
    for name, (head, _) in alone.items():
        for mine, theirs in zip(model.heads[name].parameters(), head.parameters()):
            torch.testing.assert_close(mine, theirs)


def config(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, f'{name}.py'))


@pytest.mark.parametrize('name', ['attentive_ijepa-vitb16_20e_in1k',
                                  'attentive_dseq-vith14_20e_in1k', 'ep_ijepa-vith14_20e_in1k',
                                  'attentive4_dseq-vitb16_20e_in1k'])
def test_augmented_recipe_as_the_configs_build_it(name):
    cfg = config(name)
    opt = cfg.optim_wrapper
    assert (opt.type, opt.constructor, opt.clip_grad.max_norm) == \
        ('HeadwiseClipOptimWrapper', 'AttentiveHeadsOptimWrapperConstructor', 1.0)
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == \
        ('AdamW', 1e-3, 1e-3)
    assert cfg.train_cfg.max_epochs == 20 and cfg.auto_scale_lr.base_batch_size == 1024
    assert 8 * cfg.train_dataloader.batch_size == 1024
    _, timm_transform = cfg.train_dataloader.dataset.dataset.pipeline
    assert timm_transform == dict(type='PackTimmInputs', input_size=224, is_training=True,
                                  auto_augment='original', interpolation='bicubic',
                                  re_prob=0.25, re_mode='pixel', re_count=1)
    schedulers = {s.type: s for s in cfg.param_scheduler}
    if name.startswith('attentive4'):  # V-JEPA 2's warm-up from 0.2x, constant weight decay
        assert schedulers['LinearLR'].start_factor == 0.2 and schedulers['LinearLR'].end == 5
        assert cfg.model.pooler.depth == 4
    else:  # V-JEPA 1's: no warm-up, weight decay cosine to 1e-3 of itself
        assert schedulers['CosineAnnealingParamScheduler'].eta_min_ratio == 1e-3
        assert schedulers['CosineAnnealingLR'].begin == 0 and 'LinearLR' not in schedulers
    assert cfg.test_cfg.type == 'HeldOutSelectionTestLoop' and cfg.test_cfg.select_on_heldout
    held_out = heldout_part(cfg.train_dataloader, cfg.test_dataloader)['dataset']
    assert (held_out.part, cfg.train_dataloader.dataset.part) == ('subset', 'rest')
    assert cfg.test_dataloader.dataset.split == 'val'
    assert cfg.report.protocol == 'top-1 patches' and 'held-out' in cfg.report.selection
    heads = 16 if 'vith14' in name else 12
    kind = 'efficient' if name.startswith('ep') else 'vjepa'
    assert cfg.model.pooler.kind == kind and cfg.model.pooler.get('num_heads', heads) == heads
    assert tuple(cfg.model.readouts) == (('patches', 'cls_patches') if 'dseq' in name
                                         else ('patches',))


def test_vitb_config_builds_one_pooler_per_grid_head():
    from mmengine.registry import MODELS
    cfg = config('attentive_dseq-vitb16_20e_in1k')
    model = MODELS.build(cfg.model)  # no init_weights: the checkpoint is not read
    grid = cfg.model.head_grid
    assert len(model.heads) == 2 * len(grid.lr_scales) * len(grid.weight_decays)
    head = model.heads['patches_lrx1_wd0p001']
    assert (head.pooler.queries.shape, len(head.pooler.blocks)) == ((1, 1, 768), 0)
    assert head.pooler.cross_block.xattn.num_heads == 12
    assert (head.linear.in_features, head.linear.out_features) == (768, 1000)


@pytest.mark.parametrize('name', ['attentive_ijepa-vitb16_20e_cub',
                                  'attentive_dseq-vitb16_20e_cars',
                                  'attentive_dseq-vitb16_100e_clevr-dist'])
def test_cached_recipes_select_on_held_out_training_data(name):
    cfg = config(name)
    assert (cfg.train_cfg.type, cfg.test_cfg.type) == ('FeatureCacheTrainLoop',
                                                       'FeatureCacheTestLoop')
    assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.model.head_grid
    if 'clevr' in name:
        assert cfg.runner_type == 'ClevrAttentiveProbeRunner'
        assert cfg.test_cfg.selection_dataloader.dataset.split == 'val200'
        assert cfg.train_cfg.max_epochs == 100
    else:
        assert cfg.test_cfg.select_on_heldout and cfg.train_cfg.max_epochs == 20
        assert cfg.train_dataloader.dataset.dataset.pipeline == cfg.test_pipeline


@pytest.fixture(scope='module')
def synthetic_imagenet(tmp_path_factory) -> str:
    from synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('synthetic_imagenet_attentive'))
    make_imagenet(root, num_train=64, num_val=24, seed=0)
    return root


@pytest.mark.slow
def test_smoke_config_through_the_tools_reports_the_chosen_heads(synthetic_imagenet, tmp_path):
    smoke = osp.join(CONFIGS, 'attentive_ijepa-vittiny_10e_synthimagenet.py')
    env = dict(os.environ, SYNTH_IMAGENET_ROOT=synthetic_imagenet, **ONE_THREAD)
    out = run_tool('train.py', smoke, '--work-dir', str(tmp_path), '--test', env=env)
    assert 'feature cache: encoding 48 images' in out  # 64 less the 16 held out
    assert 'head selection: patches -> patches_lrx' in out
    cfg = Config.fromfile(smoke)
    checkpoint = tmp_path / f'epoch_{cfg.train_cfg.max_epochs}.pth'
    run_tool('test.py', smoke, str(checkpoint), '--work-dir', str(tmp_path / 'test'), env=env)
    metrics, separate = (
        {k: v for k, v in metrics_of_test_run(d).items() if k.startswith('accuracy/')}
        for d in (str(tmp_path), str(tmp_path / 'test')))
    assert metrics == separate
    assert 0 <= metrics['accuracy/top1_patches'] <= 100
    assert metrics['accuracy/lr_scale_patches'] in cfg.model.head_grid.lr_scales
    assert metrics['accuracy/num_samples'] == 24
    assert not [k for k in metrics if '_lrx' in k]
    (run,) = glob.glob(str(tmp_path / 'test' / '2*'))
    records = run_records(run)
    assert set(records) == {'accuracy/top1_patches'}
    record = records['accuracy/top1_patches']
    assert len(record.keys) == 24 and record.identity is not None
    assert record.value == metrics['accuracy/top1_patches']
    assert record.metric(np.ones(24)) == pytest.approx(record.value)
