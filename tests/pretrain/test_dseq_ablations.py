"""DSeq-JEPA's ablation switches (SPEC section 3, "Ablations"): each does what it says, and the
defaults compute exactly the model without them."""
import math
import re

import pytest
import torch

from pretrain import dseq as dseq_module
from pretrain.ablations import order_regions, per_region_curriculum, top_regions, uniform_regions
from pretrain.dseq import DSeqJEPA, encoder_saliency, gradcam_saliency, saliency_map
from pretrain.ijepa import IJEPA
from pretrain.masks import MultiBlockMaskSampler
from pretrain.seeds import UNIFORM_STREAM, seeded_generator
from pretrain.sequence import FlatSequence, PrefixSequence, causal_layout, flat_steps, prefix_steps

TINY = dict(encoder=dict(embed_dim=64, depth=4, num_heads=4, img_size=96, patch_size=8),
            predictor=dict(width=32, depth=2))
GRID, P = (12, 12), 144
DEFAULTS = dict(num_regions=5, min_area=0.15, saliency_block=None, mode='prefix',
                curriculum='per_step', seed=0, no_region='skip', regions='saliency',
                prediction='sequential', order='rank', top_k=None, saliency='cls')


def _images(seed: int = 0, b: int = 4) -> torch.Tensor:
    """Smooth random images, whose saliency has regions."""
    low = torch.randn(b, 3, 5, 5, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=96, mode='bilinear') * 2


def _masks(step: int, b: int = 4) -> dict:
    sampler = MultiBlockMaskSampler(input_size=96, patch_size=8)
    return dict(sampler(b, step=step, seed=0, rank=0), step=step)


def _train_step(step: int, total: int, **kwargs):
    """Loss, gradients and weights after one AdamW step and EMA update of a fresh tiny model."""
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, **kwargs).train()
    model.set_progress(step, total)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    out = model.loss(_images(), _masks(step))
    out['loss'].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    opt.step()
    model.update_target(0.99)
    return out, grads, model.state_dict()


def _assert_identical(a, b):
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), k


# loss values of these steps computed by the code before the switches existed
GOLDEN = [(dict(), 7, 0.4412156939506531), (dict(), 0, 0.4375574588775635),
          (dict(mode='causal', curriculum='off', min_area=0.03), 3, 0.44013768434524536)]


@pytest.mark.parametrize('extra, step, golden', GOLDEN)
def test_the_default_switches_compute_the_model_without_them(extra, step, golden):
    ours = _train_step(step, 8, **extra)
    assert float(ours[0]['loss'].detach()) == pytest.approx(golden, rel=1e-6, abs=0)
    spelled_out = dict(DEFAULTS, **extra)
    _assert_identical(ours, _train_step(step, 8, **spelled_out))  # bit for bit
    legacy = dict(extra, curriculum={'per_step': True, 'off': False}[spelled_out['curriculum']])
    _assert_identical(ours, _train_step(step, 8, **legacy))  # the former bool spelling


@pytest.mark.parametrize('name, value, allowed', [
    ('regions', 'random', "['saliency', 'uniform']"),
    ('prediction', 'parallel', "['sequential', 'flat']"),
    ('order', 'raster', "['rank', 'random', 'spatial', 'inverse']"),
    ('saliency', 'attention', "['cls', 'gradcam']"),
    ('curriculum', 'linear', "['per_step', 'per_region', 'off']")])
def test_every_string_switch_names_its_allowed_values(name, value, allowed):
    message = f'{name} must be one of {allowed}, got {value!r}'
    with pytest.raises(ValueError, match=re.escape(message)):
        DSeqJEPA(**TINY, **{name: value})


@pytest.mark.parametrize('kwargs', [dict(top_k=1), dict(top_k=5), dict(top_k=3, num_regions=3),
                                    dict(num_regions=1)])
def test_top_k_and_num_regions_are_checked(kwargs):
    with pytest.raises(ValueError, match='top_k|num_regions'):
        DSeqJEPA(**TINY, **kwargs)


def _found(counts, n=5, seed=0):
    """Regions (B, n, P) with ``counts[b]`` found regions in random shapes, the rest background."""
    g = torch.Generator().manual_seed(seed)
    regions = torch.zeros(len(counts), n, P, dtype=torch.bool)
    for b, c in enumerate(counts):
        owner = torch.randint(0, c + 1, (P,), generator=g)  # c = index of the background
        for k in range(c):
            regions[b, k] = owner == k
        regions[b, -1] = owner == c
    return regions


def test_inverse_order_puts_the_lowest_ranked_region_first_and_keeps_the_background_last():
    regions = _found([4, 2, 0])
    ordered = order_regions(regions, 'inverse')
    assert torch.equal(ordered[0, :4], regions[0, :4].flip(0))
    assert torch.equal(ordered[1, :2], regions[1, :2].flip(0))  # found ones first, missing after
    assert not ordered[1, 2:4].any() and not ordered[2, :4].any()
    assert torch.equal(ordered[:, -1], regions[:, -1])
    steps = prefix_steps(ordered)  # the first step predicts from the lowest-ranked region
    first = steps['context'][0][steps['context_valid'][0]]
    assert set(first.tolist()) == set(regions[0, 3].nonzero()[:, 0].tolist())


def test_spatial_order_is_the_raster_order_of_first_patches():
    regions = _found([4, 3, 4], seed=1)
    ordered = order_regions(regions, 'spatial')
    for b, c in enumerate([4, 3, 4]):
        firsts = [int(ordered[b, k].nonzero()[0]) for k in range(c)]
        assert firsts == sorted(firsts)
        assert {tuple(r.tolist()) for r in ordered[b, :c]} == {tuple(r.tolist())
                                                               for r in regions[b, :c]}


def test_random_order_is_a_permutation_fixed_by_seed_step_and_rank():
    regions = _found([4] * 32, seed=2)
    a = order_regions(regions, 'random', seed=0, step=5, rank=0)
    assert torch.equal(a, order_regions(regions, 'random', seed=0, step=5, rank=0))
    assert not torch.equal(a, order_regions(regions, 'random', seed=0, step=6, rank=0))
    assert not torch.equal(a, order_regions(regions, 'random', seed=1, step=5, rank=0))
    assert not torch.equal(a, order_regions(regions, 'random', seed=0, step=5, rank=1))
    assert torch.equal(a[:, -1], regions[:, -1])
    # every image gets a permutation of its own regions, and not always the identity
    for b in range(32):
        assert sorted(r.tolist() for r in a[b, :4]) == sorted(r.tolist() for r in regions[b, :4])
    assert not torch.equal(a, regions)
    two = _found([2] * 8, seed=3)
    assert not order_regions(two, 'random', step=5)[:, 2:4].any()  # missing regions stay last


def test_the_model_orders_the_regions_it_finds(monkeypatch):
    regions = _found([3, 4, 1, 0], seed=4)
    monkeypatch.setattr(dseq_module, 'select_regions', lambda *a, **k: regions)
    model = DSeqJEPA(**TINY, order='inverse').eval()
    assert torch.equal(model.targets_and_regions(_images(), 3)[1],
                       order_regions(regions, 'inverse'))
    model = DSeqJEPA(**TINY, order='random', seed=7).eval()
    assert torch.equal(model.targets_and_regions(_images(), 3)[1],
                       order_regions(regions, 'random', seed=7, step=3, rank=0))


def _no_saliency(*args, **kwargs):
    raise AssertionError('uniform regions read the saliency')


def test_uniform_regions_never_compute_the_saliency(monkeypatch):
    for name in ('encoder_saliency', 'saliency_map', 'gradcam_saliency', 'select_regions'):
        monkeypatch.setattr(dseq_module, name, _no_saliency)
    monkeypatch.setattr(dseq_module, 'SALIENCY_METHODS',
                        {'cls': _no_saliency, 'gradcam': _no_saliency})
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, regions='uniform', curriculum='off').train()
    out = model.loss(_images(), _masks(3))
    assert torch.isfinite(out['loss']) and out['dseq'] == 1 and out['no_region'] == 0
    out['loss'].backward()
    targets, regions = model.targets_and_regions(_images(), 3)
    torch.testing.assert_close(targets, model.target_tokens(_images()))
    assert torch.equal(regions, uniform_regions(model.block_sampler, 4, 5, 0, 3, 0))


@pytest.mark.parametrize('num_regions', [3, 5, 7])
def test_uniform_regions_are_disjoint_blocks_of_the_samplers_target_size(num_regions):
    sampler = MultiBlockMaskSampler(input_size=96, patch_size=8)
    regions = uniform_regions(sampler, 64, num_regions, seed=0, step=11, rank=0)
    assert regions.shape == (64, num_regions, P)
    assert torch.equal(regions.sum(1), torch.ones(64, P, dtype=torch.long))  # disjoint, covering
    stream = seeded_generator(0, 11, UNIFORM_STREAM)
    h, w = sampler.block_size(stream, sampler.target_scale, sampler.target_aspect)
    lo, hi = (int(P * s) for s in sampler.target_scale)
    assert lo - 2 * max(h, w) <= h * w <= hi + 2 * max(h, w)  # about the sampler's scale range
    assert 0.75 - 0.5 <= h / w <= 1.5 + 0.5
    for b in range(64):
        rows, cols = regions[b, 0].view(GRID).nonzero().unbind(1)
        assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (h, w)
        assert len(rows) == h * w  # R1 is a whole block
        assert (regions[b, :-1].sum(-1) <= h * w).all()
    again = uniform_regions(sampler, 64, num_regions, seed=0, step=11, rank=0)
    other_rank = uniform_regions(sampler, 64, num_regions, seed=0, step=11, rank=1)
    assert torch.equal(regions, again) and not torch.equal(regions, other_rank)
    assert (other_rank[:, 0].sum(-1) == h * w).all()  # the ranks agree on the size


def test_per_region_curriculum_keeps_each_region_with_probability_lambda():
    regions = _found([4] * 500, seed=5)
    out, replaced = per_region_curriculum(regions, 0.3, GRID, seed=0, step=9, rank=0)
    n = replaced.numel()
    share = float(replaced.float().mean())
    assert abs(share - 0.7) < 4 * math.sqrt(0.7 * 0.3 / n)  # binomial, 4 standard deviations
    assert torch.equal(out.sum(1), torch.ones(500, P, dtype=torch.long))  # disjoint, covering
    # a kept region stays where no earlier rectangle takes its patches
    first_kept = ~replaced[:, 0]
    assert torch.equal(out[first_kept, 0], regions[first_kept, 0])
    # a replacing rectangle has about the patches of the region it replaces
    first = replaced[:, 0]
    area, new_area = regions[first, 0].sum(-1).float(), out[first, 0].sum(-1).float()
    assert ((new_area - area).abs() <= 2 * area.sqrt() + 2).all()
    for b in first.nonzero()[:20, 0].tolist():  # a rectangle, R1 is never cut
        rows, cols = out[b, 0].view(GRID).nonzero().unbind(1)
        assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


def test_per_region_curriculum_draws_depend_on_seed_step_and_rank_only():
    regions = _found([4, 2, 0, 3] * 8, seed=6)
    a = per_region_curriculum(regions, 0.5, GRID, seed=0, step=4, rank=0)
    assert all(torch.equal(x, y) for x, y in zip(a, per_region_curriculum(
        regions, 0.5, GRID, seed=0, step=4, rank=0)))
    for other in (dict(seed=1, step=4, rank=0), dict(seed=0, step=5, rank=0),
                  dict(seed=0, step=4, rank=1)):
        assert not torch.equal(a[1], per_region_curriculum(regions, 0.5, GRID, **other)[1])
    assert not a[1][regions[:, :-1].any(-1).logical_not()].any()  # missing regions stay missing
    keep_all = per_region_curriculum(regions, 1.0, GRID, seed=0, step=4, rank=0)
    assert torch.equal(keep_all[0], regions) and not keep_all[1].any()
    assert torch.equal(per_region_curriculum(regions, 0.0, GRID, 0, 4, 0)[1],
                       regions[:, :-1].any(-1))


def test_per_region_curriculum_makes_every_step_a_dseq_step(monkeypatch):
    regions = _found([4, 2, 1, 3], seed=7)
    monkeypatch.setattr(dseq_module, 'select_regions', lambda *a, **k: regions)
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, curriculum='per_region', seed=3).eval()
    model.set_progress(0, 10)  # lambda = 0: every found region is a rectangle
    with torch.no_grad():
        assert model.loss(_images(), _masks(0))['dseq'] == 1
    got = model.targets_and_regions(_images(), 2)[1]
    assert torch.equal(got, per_region_curriculum(regions, 0.0, GRID, 3, 2, 0)[0])
    assert not torch.equal(got, regions)


def test_flat_prediction_is_one_step_per_image_from_r1(monkeypatch):
    regions = _found([4, 2, 1, 0], seed=8)
    seq, flat = prefix_steps(regions), flat_steps(regions)
    assert seq['image'].tolist() == [0, 0, 0, 0, 1, 1, 2]  # N-1 steps, or fewer with fewer targets
    assert flat['image'].tolist() == [0, 1, 2]  # one step per image with R1
    assert flat['target'].shape[:2] == (3, 4)
    for i, b in enumerate(flat['image'].tolist()):
        ctx = flat['context'][i][flat['context_valid'][i]]
        assert set(ctx.tolist()) == set(regions[b, 0].nonzero()[:, 0].tolist())
        groups = [set(t[v].tolist()) for t, v in zip(flat['target'][i], flat['target_valid'][i])]
        expected = [set(r.nonzero()[:, 0].tolist()) for r in regions[b, 1:] if r.any()]
        assert [g for g in groups if g] == expected
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, prediction='flat', mode='causal', curriculum='off').eval()
    assert isinstance(model.sequence, FlatSequence)
    calls = []
    encode = model.encode_context
    monkeypatch.setattr(model, 'encode_context', lambda images, keep, *a, **k: (
        calls.append(('encode_context', keep.shape[0])), encode(images, keep, *a, **k))[1])
    model.predictor.register_forward_hook(
        lambda module, args, out: calls.append(('predictor', args[0].shape[0])))
    monkeypatch.setattr(dseq_module, 'select_regions', lambda *a, **k: regions)
    with torch.no_grad():
        out = model.loss(_images(), _masks(1))
    assert calls == [('encode_context', 3), ('predictor', 3)]  # one context and one call each
    assert out['no_region'] == 0.25
    # each region's prediction is the one of a single prefix step from R1
    with torch.no_grad():
        _, flat_pred = model.sequence.forward(model, _images(), flat)
        one = prefix_steps(regions[:1, [0, 1, 4]])  # image 0: R2 from R1 alone, then the rest
        _, step_pred = PrefixSequence().forward(model, _images()[:1], one)
    n = int(one['target_valid'][0].sum())  # raster order: the real queries come first
    torch.testing.assert_close(flat_pred[0, 0][:n], step_pred[0][:n])


@pytest.mark.parametrize('mode', ['prefix', 'causal'])
def test_top_k_predicts_r1_to_rk_only(monkeypatch, mode):
    regions = _found([4, 3, 1, 4], seed=9)
    monkeypatch.setattr(dseq_module, 'select_regions', lambda *a, **k: regions)
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, top_k=3, mode=mode, curriculum='off').eval()
    kept = model.targets_and_regions(_images(), 0)[1]
    assert torch.equal(kept, top_regions(regions, 3)) and kept.shape == (4, 3, P)
    layout = model.sequence.layout(kept)
    targets = layout['target'][layout['target_valid']] if mode == 'prefix' else None
    if mode == 'prefix':
        assert layout['image'].tolist() == [0, 0, 1, 1, 3, 3] and layout['k'].tolist() == [1, 2] * 3
    else:
        targets = layout['target'][layout['target_valid']]
        contexts = layout['context'][layout['context_valid']]
        rows = layout['context_valid'].sum(1).tolist()
        assert rows == kept[:, :2].sum((1, 2)).tolist()  # contexts: R1 u R2 only
        assert set(contexts.tolist()) <= set(kept[:, :2].any(1).nonzero()[:, 1].tolist())
    assert len(targets) == int(kept[:, 1:].sum())  # R2 and R3 only: no R4, no background
    with torch.no_grad():
        out = model.loss(_images(), _masks(0))
    assert out['no_region'] == 0.25  # image 2 has R1 but nothing to predict
    one = _found([1, 1, 1, 1], seed=10)  # no image has a target: the I-JEPA step
    monkeypatch.setattr(dseq_module, 'select_regions', lambda *a, **k: one)
    with torch.no_grad():
        torch.testing.assert_close(model.loss(_images(), _masks(0))['loss'],
                                   IJEPA.loss(model, _images(), _masks(0))['loss'])


def test_causal_layout_leaves_uncovered_patches_out():
    regions = top_regions(_found([4, 2], seed=11), 3)
    layout = causal_layout(regions)
    for b in range(2):
        ctx = set(layout['context'][b][layout['context_valid'][b]].tolist())
        tgt = set(layout['target'][b][layout['target_valid'][b]].tolist())
        assert ctx == set(regions[b, :2].any(0).nonzero()[:, 0].tolist())
        assert tgt == set(regions[b, 1:].any(0).nonzero()[:, 0].tolist())


@pytest.mark.parametrize('order', ['inverse', 'random', 'spatial'])
def test_orders_run_in_both_sequence_modes(order):
    for mode in ('prefix', 'causal'):
        torch.manual_seed(0)
        model = DSeqJEPA(**TINY, order=order, mode=mode, curriculum='off', min_area=0.03).train()
        out = model.loss(_images(), _masks(2))
        assert torch.isfinite(out['loss'])
        out['loss'].backward()


def test_gradcam_is_the_channel_weighted_tokens_min_max_normalised():
    torch.manual_seed(0)
    tokens, query = torch.randn(3, 16, 8), torch.randn(8)
    # with an identity norm, the gradient of every token is q / sqrt(D): the map is ReLU(A) rescaled
    raw = torch.relu(tokens @ query / math.sqrt(8))
    lo, hi = raw.min(1, keepdim=True).values, raw.max(1, keepdim=True).values
    torch.testing.assert_close(gradcam_saliency(tokens, torch.nn.Identity(), query),
                               (raw - lo) / (hi - lo + 1e-6))
    norm = torch.nn.LayerNorm(8, eps=1e-6)
    with torch.no_grad():  # as in the target pass; no parameter gradient is touched
        cam = gradcam_saliency(tokens, norm, query)
    assert norm.weight.grad is None and norm.bias.grad is None
    assert cam.shape == (3, 16) and (cam >= 0).all() and (cam < 1).all()
    assert torch.allclose(cam.min(1).values, torch.zeros(3))
    assert torch.allclose(cam.max(1).values, torch.ones(3), atol=1e-4)
    assert not torch.allclose(cam, saliency_map(tokens, norm, query), atol=1e-2)


def test_the_gradcam_model_uses_the_gradcam_map_of_the_target_encoder():
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, saliency='gradcam', curriculum='off', min_area=0.03).train()
    enc = model.target_encoder
    final, cam = encoder_saliency(enc, _images(), model.saliency_block, gradcam_saliency)
    _, cls = encoder_saliency(enc, _images(), model.saliency_block)
    assert cam.shape == cls.shape == (4, *GRID) and not torch.allclose(cam, cls, atol=1e-2)
    out = model.loss(_images(), _masks(3))
    out['loss'].backward()
    assert all(p.grad is None for p in enc.parameters())
    assert torch.isfinite(out['loss'])


@pytest.mark.parametrize('num_regions', [3, 7])
def test_num_regions_sets_the_number_of_regions(num_regions):
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, num_regions=num_regions, min_area=0.03).eval()
    regions = model.targets_and_regions(_images())[1]
    assert regions.shape == (4, num_regions, P)
    assert len(prefix_steps(regions)['k']) <= 4 * (num_regions - 1)
