"""DSeq-JEPA: saliency, prefix steps, no leak of hidden patches, curriculum, real training."""
import json
import math
import os

import pytest
import torch

from backbones import JEPAViT
from backbones.safe_checkpoint import load_from_local_safely
from tests.helpers import (ROOT, config_with_hooks, last_run_logged, pretraining_steps,
                           repaint_outside, run_pretraining)
from pretrain.dseq import DSeqJEPA, curriculum_draw, saliency_map
from pretrain.sequence import CausalSequence, PrefixSequence, causal_layout, prefix_steps

TINY = dict(encoder=dict(embed_dim=64, depth=4, num_heads=4, img_size=96, patch_size=8),
            predictor=dict(width=32, depth=2))


def test_saliency_is_the_scaled_dot_product_with_the_cls_parameter_min_max_normalised():
    norm = torch.nn.LayerNorm(4, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1., 2., 1., 1.]))
        norm.bias.copy_(torch.tensor([0., 0., 1., 0.]))
    tokens = torch.tensor([[[1., -1., 1., -1.], [2., 0., 0., -2.], [0., 0., 0., 3.]]])
    query = torch.tensor([1., 1., 0., 2.])
    with torch.no_grad():
        scores = []
        for z in tokens[0]:
            centred = z - z.mean()
            ln = centred / torch.sqrt(centred.pow(2).mean() + 1e-6) * norm.weight + norm.bias
            scores.append(float(ln @ query) / math.sqrt(4))
        lo, hi = min(scores), max(scores)
        expected = torch.tensor([(s - lo) / (hi - lo + 1e-6) for s in scores])
        torch.testing.assert_close(saliency_map(tokens, norm, query)[0], expected)
    assert saliency_map(tokens, norm, query).min() == 0


def test_prefix_steps_nest_contexts_and_skip_empty_targets():
    p = 10
    regions = torch.zeros(3, 5, p, dtype=torch.bool)
    regions[0, 0, :3] = regions[0, 1, 3:5] = True  # two regions: R1, R2, background R5
    regions[0, 4, 5:] = True
    regions[1, 0, :4] = True  # one region: only the background is predicted, from R1
    regions[1, 4, 4:] = True
    regions[2, 4] = True  # no region at all: no step
    steps = prefix_steps(regions)
    assert steps['image'].tolist() == [0, 0, 1] and steps['k'].tolist() == [1, 4, 4]

    def rows(name, i):
        return set(steps[name][i][steps[f'{name}_valid'][i]].tolist())
    assert rows('context', 0) == {0, 1, 2} and rows('target', 0) == {3, 4}  # C1 = R1 -> R2
    assert rows('context', 1) == {0, 1, 2, 3, 4} and rows('target', 1) == set(range(5, 10))
    assert rows('context', 2) == {0, 1, 2, 3} and rows('target', 2) == set(range(4, 10))
    for i in range(3):  # R1 is never a target
        assert not rows('target', i) & set(regions[steps['image'][i], 0].nonzero()[:, 0].tolist())


def _sequence_outputs(model: DSeqJEPA, regions: torch.Tensor):
    """The layout of the model's sequence mode for ``regions``, and the function of the images that
    gives its context outputs and predictions."""
    layout = model.sequence.layout(regions)

    def outputs(images):
        with torch.no_grad():
            return model.sequence.forward(model, images, layout)
    return layout, outputs


def test_patches_outside_the_context_never_reach_step_k():
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY).eval()
    regions = torch.zeros(2, 5, 144, dtype=torch.bool)
    regions[:, 0, :30] = regions[:, 1, 30:60] = regions[:, 2, 60:90] = True
    regions[:, 4, 90:] = True
    steps, step_outputs = _sequence_outputs(model, regions)
    assert isinstance(model.sequence, PrefixSequence)
    images = torch.randn(2, 3, 96, 96)
    before = step_outputs(images)
    for i, (b, k) in enumerate(zip(steps['image'].tolist(), steps['k'].tolist())):
        visible = set(steps['context'][i][steps['context_valid'][i]].tolist())
        changed = images.clone()
        repaint_outside(changed, b, visible)
        after = step_outputs(changed)
        real = steps['context_valid'][i]  # padded rows are computed, never attended to, never used
        torch.testing.assert_close(after[0][i][real], before[0][i][real],
                                   msg=f'context of step {k}')
        torch.testing.assert_close(after[1][i], before[1][i], msg=f'predictions of step {k}')
        inside = images.clone()  # the control: step k does read its own image's context
        repaint_outside(inside, b, set(range(144)) - visible)
        assert not torch.allclose(step_outputs(inside)[1][i], before[1][i]), f'step {k}'


def test_curriculum_draws_depend_on_seed_and_step_only():
    draws = [curriculum_draw(0, step) for step in range(2000)]
    assert draws == [curriculum_draw(0, step) for step in range(2000)]  # any rank, any resume
    assert draws != [curriculum_draw(1, step) for step in range(2000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    # with lambda = t / T, about half of the steps of a run are DSeq steps
    share = sum(d < t / 2000 for t, d in enumerate(draws)) / 2000
    assert 0.45 < share < 0.55


@pytest.mark.slow
@pytest.mark.parametrize('mode', ['prefix', 'causal'])
def test_dseq_pretraining_reduces_the_loss_and_its_weights_load_with_cls(tmp_path, mode):
    from synthetic import make_imagenet
    make_imagenet(str(tmp_path / 'data'), num_train=64, num_val=0, seed=0)
    config = os.path.join(ROOT, 'configs', 'pretrain', 'dseq_vitmicro8_10e_synthimagenet.py')
    run_pretraining(tmp_path / 'work', str(tmp_path / 'data'), 'train_cfg.max_epochs=10',
                    'default_hooks.logger.interval=1', 'model.curriculum=off',
                    f'model.mode={mode}', config=config)
    losses = last_run_logged(tmp_path / 'work')
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    last = str(tmp_path / 'work' / f'iter_{pretraining_steps(config, images=64, epochs=10)}.pth')
    vit = JEPAViT(embed_dim=64, depth=4, num_heads=4, img_size=96, patch_size=8, out_indices=(3,),
                  use_cls_token=True, init_cfg=dict(type='Pretrained', checkpoint=last))
    vit.init_weights()
    state = load_from_local_safely(str(last))['state_dict']
    assert torch.equal(vit.cls_token, state['target_encoder.cls_token'])


def _three_region_batch():
    regions = torch.zeros(2, 5, 144, dtype=torch.bool)
    regions[:, 0, :30] = regions[:, 1, 30:60] = regions[:, 2, 60:90] = True
    regions[:, 4, 90:] = True
    regions[1] = regions[1][:, torch.randperm(144, generator=torch.Generator().manual_seed(0))]
    return regions


def test_causal_masks_follow_the_rank_order():
    regions = _three_region_batch()
    layout = causal_layout(regions)
    rank = regions.to(torch.uint8).argmax(1)
    for b in range(2):
        ctx = layout['context'][b][layout['context_valid'][b]]
        assert rank[b, ctx].tolist() == sorted(rank[b, ctx].tolist())  # rank order
        assert set(ctx.tolist()) == set(regions[b, :4].any(0).nonzero()[:, 0].tolist())
        enc = layout['encoder_mask'][b]
        lc = len(ctx)
        ranks = [0] + rank[b, ctx].tolist()  # CLS is in the R1 block
        for i in range(lc + 1):
            assert enc[i, :lc + 1].tolist() == [r <= ranks[i] for r in ranks]
        pm = layout['predictor_mask'][b]
        query = layout['target'][b][layout['target_valid'][b]]
        steps = layout['step'][b][layout['target_valid'][b]]
        assert set(query.tolist()) == set(regions[b, 1:].any(0).nonzero()[:, 0].tolist())
        width = layout['context'].shape[1]
        for qi, s in enumerate(steps.tolist()):
            row = pm[width + qi]
            assert row[:lc].tolist() == [r < s for r in ranks[1:]]  # R1..Rk only
            assert row[width:width + len(query)].tolist() == (steps == s).tolist()
        assert not pm[:lc, width:].any()  # context never sees queries


def test_causal_mode_never_lets_later_regions_reach_step_k():
    torch.manual_seed(0)
    model = DSeqJEPA(mode='causal', **TINY).eval()
    regions = _three_region_batch()
    layout, outputs = _sequence_outputs(model, regions)
    images = torch.randn(2, 3, 96, 96)
    before = outputs(images)
    rank = regions.to(torch.uint8).argmax(1)
    for b in range(2):
        for k in (1, 2, 3, 4):  # step k: context R1..Rk, target R(k+1)
            visible = set((rank[b] < k).nonzero()[:, 0].tolist())
            changed = images.clone()
            repaint_outside(changed, b, visible)
            after = outputs(changed)
            ctx_rows = layout['context_valid'][b] & (rank[b, layout['context'][b]] < k)
            q_rows = layout['target_valid'][b] & (layout['step'][b] == k)
            torch.testing.assert_close(after[0][b][ctx_rows], before[0][b][ctx_rows])
            torch.testing.assert_close(after[1][b][q_rows], before[1][b][q_rows])
            later = layout['context_valid'][b] & (rank[b, layout['context'][b]] >= k)
            if later.any():  # the test can fail: later regions do change
                assert not torch.allclose(after[0][b][later], before[0][b][later])


@pytest.mark.slow
def test_curriculum_draws_agree_across_two_gloo_ranks(tmp_path):
    from synthetic import make_imagenet
    make_imagenet(str(tmp_path / 'data'), num_train=64, num_val=0, seed=0)
    config = config_with_hooks(tmp_path, "dict(type='DumpStepKindsHook')", base=os.path.join(
        ROOT, 'configs', 'pretrain', 'dseq_vitmicro8_10e_synthimagenet.py'))
    run_pretraining(tmp_path / 'work', str(tmp_path / 'data'), 'train_cfg.max_epochs=8',
                    config=config, launcher=('dist_pretrain.sh', '2'))
    kinds = []
    for rank in (0, 1):
        with open(tmp_path / 'work' / f'kinds{rank}.json') as f:
            kinds.append(json.load(f))
    steps = pretraining_steps(config, images=64, epochs=8, ranks=2)
    assert kinds[0] == kinds[1] and len(kinds[0]) == steps
    assert 0 < sum(kinds[0]) < steps  # the curriculum mixed both kinds of step
    assert kinds[0] == [int(curriculum_draw(0, t) < t / steps) for t in range(steps)]


def _token_errors(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean smooth L1 of each predicted token: (..., D) -> (...)."""
    return torch.nn.functional.smooth_l1_loss(pred, target, reduction='none').mean(-1)


@pytest.mark.parametrize('no_region', ['skip', 'ijepa'])
def test_a_dseq_step_pools_every_predicted_token(monkeypatch, no_region):
    from pretrain.ijepa import IJEPA
    from pretrain.masks import MultiBlockMaskSampler
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, curriculum='off', no_region=no_region).eval()
    images = torch.randn(3, 3, 96, 96)
    masks = dict(MultiBlockMaskSampler(input_size=96, patch_size=8)(3, step=0), step=0)
    targets = model.targets_and_regions(images)[0]
    regions = _three_region_batch()
    regions = torch.cat([regions, torch.zeros(1, 5, 144, dtype=torch.bool)])
    regions[2, 4] = True  # image 2 has no region
    monkeypatch.setattr(model, 'targets_and_regions', lambda x, step=0: (targets, regions))
    with torch.no_grad():
        steps = prefix_steps(regions)
        _, pred = PrefixSequence().forward(model, images, steps)
        per_token = [_token_errors(pred, targets[steps['image'][:, None], steps['target']])
                     [steps['target_valid']]]
        if no_region == 'ijepa':  # image 2 predicts its own multi-block targets
            one = {k: masks[k][2:] if masks[k] is not None else None
                   for k in ('context', 'context_valid', 'targets')}
            blocks = model.predict_blocks(images[2:], one)
            per_token.append(_token_errors(blocks, targets[2][one['targets'][0]][None]).flatten())
        expected = torch.cat(per_token).mean()
        out = model.loss(images, masks)
        torch.testing.assert_close(out['loss'], expected)
        assert out['no_region'] == pytest.approx(1 / 3)
        # a batch without any region takes the I-JEPA step on its masks, in either mode
        regions = torch.zeros_like(regions)
        regions[:, 4] = True
        torch.testing.assert_close(model.loss(images, masks)['loss'],
                                   IJEPA.loss(model, images, masks)['loss'])


@pytest.mark.parametrize('options', [dict(), dict(mode='causal'), dict(prediction='flat'),
                                     dict(no_region='ijepa')])
def test_a_dseq_step_reads_the_device_once(monkeypatch, options):
    # the region sizes, from which every shape of the step follows; on a GPU, a DSeq step's one
    # wait for the device (region selection itself reads nothing there; on CPU it may stop its
    # rounds early, which this test leaves out by giving the regions)
    from pretrain.masks import MultiBlockMaskSampler
    from benchmarks.host_reads import HostReadCounter
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, curriculum='off', **options)
    images = torch.randn(3, 3, 96, 96)
    masks = dict(MultiBlockMaskSampler(input_size=96, patch_size=8)(3, step=0), step=0)
    assert masks['context_valid'] is not None  # packed contexts in the I-JEPA part
    targets = model.targets_and_regions(images)[0]
    regions = torch.cat([_three_region_batch(), torch.zeros(1, 5, 144, dtype=torch.bool)])
    regions[2, 4] = True  # image 2 has no region
    monkeypatch.setattr(model, 'targets_and_regions', lambda x, step=0: (targets, regions))
    with HostReadCounter() as counter:
        model.loss(images, masks)['loss'].backward()
    assert len(counter.reads) == 1 and '(region_sizes)' in counter.reads[0], counter.reads


def test_the_curriculum_is_a_function_of_seed_step_and_the_models_progress_only():
    from mmengine.logging import MessageHub
    from pretrain.dseq import is_dseq_step
    from pretrain.masks import MultiBlockMaskSampler
    torch.manual_seed(0)
    model = DSeqJEPA(**TINY, seed=3).eval()
    images = torch.randn(2, 3, 96, 96)
    sampler = MultiBlockMaskSampler(input_size=96, patch_size=8)
    MessageHub.get_current_instance().update_info('iter', 15)  # no global state is read
    kinds, total = [], 12
    for step in range(total):
        model.set_progress(step, total)
        with torch.no_grad():
            kinds.append(int(model.loss(images, dict(sampler(2, step=step), step=step))['dseq']))
    assert kinds == [int(curriculum_draw(3, t) < t / total) for t in range(total)]
    assert kinds == [int(is_dseq_step(3, t, t / total)) for t in range(total)]
    assert 0 < sum(kinds) < total


def test_sequence_modes_are_found_by_name():
    from pretrain.sequence import SEQUENCE_MODES
    assert isinstance(DSeqJEPA(**TINY, mode='causal').sequence, CausalSequence)
    with pytest.raises(ValueError, match=r"mode must be one of \['causal', 'prefix'\], got 'rows'"):
        DSeqJEPA(**TINY, mode='rows')
    assert set(SEQUENCE_MODES.module_dict) == {'causal', 'prefix'}
