"""Multi-block masks: sizes, exclusion, min_keep, determinism, reachability and the compat
geometry."""
import math

import pytest
import torch

from pretrain.masks import MultiBlockMaskSampler, multiblock_collate


def _rows_cols(index, cols=14):
    return index // cols, index % cols


def _is_full_rectangle(index, cols=14):
    r, c = _rows_cols(index, cols)
    return len(index) == (r.max() - r.min() + 1) * (c.max() - c.min() + 1)


def test_blocks_are_whole_rectangles_removed_from_the_context():
    sampler = MultiBlockMaskSampler()
    for step in range(20):
        masks = sampler(8, step=step, rank=0)
        assert masks['targets'].shape[:2] == (8, 4)
        for i in range(8):
            ctx = masks['context'][i]
            if masks['context_valid'] is not None:
                ctx = ctx[masks['context_valid'][i]]
            assert len(ctx) > 10 and len(set(ctx.tolist())) == len(ctx)
            assert torch.equal(ctx, ctx.sort().values)  # raster order
            for t in masks['targets'][i]:
                assert _is_full_rectangle(t)
                assert not set(t.tolist()) & set(ctx.tolist())


def test_block_sizes_follow_the_formula():
    sampler = MultiBlockMaskSampler()
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        h, w = sampler.block_size(g, (0.85, 1.0), (1.0, 1.0))
        assert (h, w) == (13, 13)  # n >= 166 patches at ratio 1, shrunk below the 14x14 grid
        u = torch.rand(1, generator=g.clone_state()).item()  # the draw block_size will make
        n = int(196 * (0.15 + 0.05 * u))  # SPEC section 2: one draw sets scale and aspect ratio
        ratio = 0.75 + 0.75 * u
        expected = (round(math.sqrt(n * ratio)), round(math.sqrt(n / ratio)))
        assert sampler.block_size(g, (0.15, 0.2), (0.75, 1.5)) == expected


def test_one_size_per_step_shared_by_ranks_positions_differ():
    sampler = MultiBlockMaskSampler()
    a, b = sampler(4, step=7, rank=0), sampler(4, step=7, rank=1)
    assert a['targets'].shape == b['targets'].shape
    assert not torch.equal(a['targets'], b['targets'])
    again = sampler(4, step=7, rank=0)
    assert all(torch.equal(a[k], again[k]) for k in ('context', 'targets'))
    other = sampler(4, step=8, rank=0)
    assert not torch.equal(a['targets'], other['targets'])
    assert not torch.equal(sampler(4, step=7, seed=1, rank=0)['targets'], a['targets'])


def test_every_patch_is_reachable_by_default():
    sampler = MultiBlockMaskSampler()
    seen_ctx, seen_tgt = set(), set()
    for step in range(100):
        masks = sampler(4, step=step, rank=0)
        valid = masks['context_valid']
        ctx = masks['context'] if valid is None else masks['context'][valid]
        seen_ctx |= set(ctx.flatten().tolist())
        seen_tgt |= set(masks['targets'].flatten().tolist())
    assert seen_ctx == set(range(196)) and seen_tgt == set(range(196))


def test_compat_reproduces_the_released_geometry():
    sampler = MultiBlockMaskSampler(compat=True)
    for step in range(50):
        masks = sampler(8, step=step, rank=0)
        assert masks['context_valid'] is None  # truncated to the shortest context
        for index in (masks['context'], masks['targets']):
            r, c = _rows_cols(index.flatten())
            assert r.max() < 13 and c.max() < 13  # row and column 13 are never used
        # the context block is the 13x13 top-left block: whatever the targets leave of it, in order
        for i in range(8):
            block = {r * 14 + c for r in range(13) for c in range(13)}
            free = sorted(block - set(masks['targets'][i].flatten().tolist()))
            assert masks['context'][i].tolist() == free[:masks['context'].shape[1]]


def test_min_keep_holds_when_targets_crowd_the_grid():
    sampler = MultiBlockMaskSampler(input_size=96, patch_size=16, target_scale=(0.4, 0.5),
                                    min_keep=4)
    for step in range(30):
        masks = sampler(4, step=step, rank=0)
        valid = masks['context_valid']
        lengths = masks['context'].shape[1] if valid is None else valid.sum(1).min().item()
        assert lengths > 4


def test_target_blocks_below_min_keep_are_refused():
    with pytest.raises(ValueError, match=r'target blocks of \d+x\d+ patches on a \(4, 4\) grid'):
        MultiBlockMaskSampler(input_size=64, patch_size=16)(2, step=0, rank=0)


def test_collate_needs_the_step_and_reports_skipped_images():
    img = torch.zeros(3, 224, 224, dtype=torch.uint8)
    batch = multiblock_collate([dict(img=img, step=3, skipped=['a.jpg']),
                                dict(img=img, step=3, skipped=[])])
    assert batch['inputs'].shape == (2, 3, 224, 224)
    assert batch['data_samples']['skipped'] == ['a.jpg']
    with pytest.raises(ValueError, match='StepBatchSampler'):
        multiblock_collate([dict(img=img, step=None, skipped=[])])
