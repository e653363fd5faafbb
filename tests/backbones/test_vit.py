"""The suite's ViT: positions, windows, CLS handling, freezing and checkpointing."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from backbones import JEPAViT, SimpleFeaturePyramid, VisionTransformer
from backbones.pos_embed import resample_pos_embed, sincos_2d
from backbones.vit import Attention

TINY = dict(embed_dim=64, depth=4, num_heads=4)


def _mae_sincos(dim, size):
    """The released MAE / I-JEPA numpy recipe, written out independently of the suite's code."""
    def one_d(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    grid = np.stack(np.meshgrid(np.arange(size, dtype=np.float64),
                                np.arange(size, dtype=np.float64)), axis=0)
    return np.concatenate([one_d(dim // 2, grid[0]), one_d(dim // 2, grid[1])], axis=1)


def test_sincos_matches_the_released_recipe():
    ours = sincos_2d(768, (14, 14))[0].double().numpy()
    np.testing.assert_allclose(ours, _mae_sincos(768, 14), atol=1e-6)


def test_sincos_for_a_larger_grid_extends_the_pretraining_grid():
    small, big = sincos_2d(64, (14, 14))[0], sincos_2d(64, (64, 40))[0]
    big = big.view(64, 40, 64)[:14, :14].reshape(196, 64)
    assert torch.equal(small, big)


def test_resampling_to_the_same_grid_is_the_identity():
    table = torch.randn(1, 196, 64)
    assert torch.equal(resample_pos_embed(table, (14, 14), (14, 14)), table)
    vit = VisionTransformer(img_size=224, pos_embed='learned', **TINY)
    assert vit.pos_embed_for((14, 14)) is vit.pos_embed
    assert vit.pos_embed_for((20, 16)).shape == (1, 320, 64)


@pytest.mark.slow
def test_dense_outputs_of_vitb16_at_1024_through_the_neck():
    vit = JEPAViT(arch='b', img_size=224, out_indices=(3, 5, 7, 11), window_size=14,
                  use_cls_token=True).eval()
    neck = SimpleFeaturePyramid(in_channels=[768] * 4, num_outs=5).eval()
    with torch.no_grad():
        feats = vit(torch.randn(1, 3, 1024, 1024))
        assert [tuple(f.shape) for f in feats] == [(1, 768, 64, 64)] * 4
        levels = neck(feats)
    assert [tuple(f.shape) for f in levels] == [(1, 256, 1024 // s, 1024 // s)
                                               for s in (4, 8, 16, 32, 64)]


def _window_mask(grid, window, prefix):
    """Global boolean mask that reproduces windowed attention: same window, or a prefix token."""
    rows, cols = grid
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing='ij')
    win = ((r // window) * math.ceil(cols / window) + c // window).flatten()
    n = prefix + rows * cols
    mask = torch.zeros(n, n, dtype=torch.bool)
    mask[prefix:, prefix:] = win[:, None] == win[None, :]
    mask[:, :prefix] = True
    mask[:prefix, :] = True
    return mask


@pytest.mark.parametrize('grid,window,prefix', [((6, 6), 3, 0), ((7, 5), 3, 1), ((5, 9), 4, 1),
                                                ((5, 9), 4, 5)])
def test_windowed_attention_equals_masked_global_attention(grid, window, prefix):
    torch.manual_seed(0)
    attn = Attention(32, 4)
    x = torch.randn(2, prefix + grid[0] * grid[1], 32)
    windowed = attn(x, grid=grid, window=window, num_prefix=prefix)
    reference = attn(x, attn_mask=_window_mask(grid, window, prefix))
    torch.testing.assert_close(windowed, reference, atol=1e-5, rtol=1e-5)


def test_windowed_attention_refuses_an_attention_mask():
    with pytest.raises(ValueError, match='no attn_mask'):
        Attention(32, 4)(torch.randn(1, 16, 32), attn_mask=torch.ones(16, 16, dtype=torch.bool),
                         grid=(4, 4), window=2)


@pytest.mark.parametrize('window', [14, 16])
def test_one_window_over_the_whole_grid_is_global_attention(window):
    torch.manual_seed(0)
    windowed = VisionTransformer(use_cls_token=True, window_size=window, **TINY).eval()
    plain = VisionTransformer(use_cls_token=True, **TINY).eval()
    plain.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(windowed(x), plain(x), atol=1e-5, rtol=1e-5)


def test_cls_token_is_dropped_from_dense_outputs_but_shapes_them():
    torch.manual_seed(0)
    vit = JEPAViT(out_indices=(1, 3), use_cls_token=True, **TINY).eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        before = vit(x)
        vit.cls_token.add_(1.0)
        after = vit(x)
    assert [tuple(f.shape) for f in before] == [(1, 64, 6, 8)] * 2
    assert not torch.allclose(before[1], after[1])


def test_out_indices_keep_their_order_and_norm_applies_to_the_last_block_only():
    torch.manual_seed(0)
    vit = JEPAViT(out_indices=(3, 1), norm_last=True, **TINY).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        last, second = vit(x)
        tokens = vit.forward_features(x)  # all blocks, then the final norm
    assert torch.allclose(last.flatten(2).transpose(1, 2), tokens, atol=1e-6)
    assert not torch.allclose(second, last)


def test_frozen_stages_stay_frozen_and_in_eval_mode():
    vit = JEPAViT(out_indices=(3,), frozen_stages=2, drop_path_rate=0.2, use_cls_token=True,
                  num_reg_tokens=2, pos_embed='learned', **TINY)
    vit.train()
    frozen = [vit.patch_embed, vit.blocks[0], vit.blocks[1]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert not any(p.requires_grad for p in (vit.cls_token, vit.reg_token, vit.pos_embed))
    assert all(not m.training for m in frozen)
    assert vit.blocks[2].training and all(p.requires_grad for p in vit.blocks[2].parameters())


def test_freezing_every_block_freezes_the_final_norm_too():
    vit = JEPAViT(out_indices=(3,), frozen_stages=4, use_cls_token=True, **TINY).train()
    assert not any(p.requires_grad for p in vit.parameters())
    assert not any(m.training for m in [vit.patch_embed, *vit.blocks])
    partly = JEPAViT(out_indices=(3,), frozen_stages=3, **TINY)
    assert all(p.requires_grad for p in partly.norm.parameters())


def test_prefix_tokens_come_with_each_map_as_forward_intermediates_gives_them():
    torch.manual_seed(0)
    vit = JEPAViT(out_indices=(1, 3), norm_last=False, with_prefix_tokens=True,
                  use_cls_token=True, **TINY).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        outs = vit(x)
        expected = vit.forward_intermediates(x, (1, 3), return_prefix_tokens=True,
                                             intermediates_only=True)
    for (patches, prefix), (want_patches, want_prefix) in zip(outs, expected):
        assert patches.shape == (2, 64, 4, 3) and prefix.shape == (2, 1, 64)
        assert torch.equal(patches, want_patches) and torch.equal(prefix, want_prefix)


def test_gradient_checkpointing_gives_the_same_values_and_gradients():
    torch.manual_seed(0)
    plain = VisionTransformer(use_cls_token=True, window_size=2, **TINY)
    ckpt = VisionTransformer(use_cls_token=True, window_size=2, grad_checkpointing=True, **TINY)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 80)
    plain(x).square().mean().backward()
    ckpt(x).square().mean().backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_drop_path_is_active_in_training_only():
    torch.manual_seed(0)
    vit = VisionTransformer(drop_path_rate=0.5, **TINY)
    x = torch.randn(4, 3, 32, 32)
    vit.eval()
    with torch.no_grad():
        assert torch.equal(vit(x), vit(x))
        vit.train()
        assert not torch.equal(vit(x), vit(x))


@pytest.mark.slow
def test_compiled_blocks_on_windowed_dense_grids():
    from benchmarks.step_timing import compiled_block_halves
    torch.manual_seed(0)
    kwargs = dict(out_indices=(1, 3), use_cls_token=True, num_reg_tokens=2, layer_scale_init=0.5,
                  window_size=2, global_blocks=(1,), drop_path_rate=0.5, **TINY)
    eager, compiled = JEPAViT(**kwargs).eval(), JEPAViT(compile_blocks=True, **kwargs).eval()
    compiled.load_state_dict(eager.state_dict())
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        for a, b in zip(eager(x), compiled(x)):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    compiled.train()
    outs = []
    assert compiled_block_halves(lambda: outs.append(compiled(x)[1]), compiled) == (2 * 4, 2 * 4)
    first = outs[0]
    first.square().mean().backward()
    assert not torch.equal(first, compiled(x)[1])  # drop path draws anew in compiled code too
    assert all(p.grad is not None for p in compiled.blocks.parameters())


def test_init_scales_residual_projections_by_depth():
    torch.manual_seed(0)
    vit = VisionTransformer(arch='s', depth=12)
    stds = [blk.attn.proj.weight.std().item() for blk in vit.blocks]
    expected = [0.02 / math.sqrt(2 * layer) for layer in range(1, 13)]
    assert np.allclose(stds, expected, rtol=0.1)


@pytest.mark.parametrize('size', [(64, 80), (48, 32)])
def test_patch_embedding_is_the_strided_convolution(size):
    """The patch embedding runs patch_embed.proj as a matrix product."""
    vit = VisionTransformer(img_size=64, patch_size=16, **TINY)
    x = torch.randn(2, 3, *size)
    tokens, grid = vit.patchify(x)
    conv = vit.patch_embed.proj(x)
    assert grid == tuple(conv.shape[2:])
    torch.testing.assert_close(tokens, conv.flatten(2).transpose(1, 2) + vit.pos_embed_for(grid),
                               atol=1e-5, rtol=1e-5)


def test_a_size_the_patch_does_not_divide_is_refused_with_the_numbers():
    from pretrain.masks import MultiBlockMaskSampler
    with pytest.raises(ValueError, match='img_size is 100x100 pixels, which patch size 16'):
        VisionTransformer(img_size=100, patch_size=16, **TINY)
    vit = VisionTransformer(img_size=64, patch_size=16, **TINY)
    with pytest.raises(ValueError, match='the input is 70x64 pixels, which patch size 16'):
        # the convolution would drop 6 rows of pixels
        vit.forward_features(torch.randn(1, 3, 70, 64))
    with pytest.raises(ValueError, match="input_size is 100x100 pixels, which patch size 8"):
        MultiBlockMaskSampler(input_size=100, patch_size=8)


@pytest.mark.parametrize('regs', [0, 4])
def test_a_key_mask_over_kept_patches_equals_packed_rows(regs):
    """forward_masked: an attn_mask hiding padded keys gives the packed rows' real outputs."""
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=64, patch_size=16, use_cls_token=True, num_reg_tokens=regs,
                            **TINY).eval()
    x = torch.randn(3, 3, 64, 64)
    keep = torch.randint(0, 16, (3, 7))
    valid = torch.rand(3, 7) > 0.3
    valid[:, 0] = True
    real = F.pad(valid, (1 + regs, 0), value=True)
    with torch.no_grad():
        packed = vit.forward_masked(x, keep, valid)
        masked = vit.forward_masked(x, keep, attn_mask=real[:, None, None])
    torch.testing.assert_close(packed[real], masked[real], atol=1e-5, rtol=1e-5)
    assert not packed[~real].any()  # padding comes out as zeros
    with pytest.raises(ValueError, match='not both'):
        vit.forward_masked(x, keep, valid, attn_mask=valid[:, None, None])


def test_forward_intermediates_match_timm_on_the_same_weights():
    """The one feature API against timm's ViT (the suite's names are timm's; CLS at a zero
    position, the final norm as timm's fc_norm)."""
    import timm
    torch.manual_seed(0)
    ours = VisionTransformer(img_size=64, patch_size=16, use_cls_token=True, **TINY).eval()
    ref = timm.create_model('vit_small_patch16_224', pretrained=False, img_size=64, embed_dim=64,
                            depth=4, num_heads=4, class_token=True, global_pool='avg',
                            num_classes=0).eval()
    sd = {('fc_' + k) if k.startswith('norm.') else k: v for k, v in ours.state_dict().items()}
    sd['pos_embed'] = F.pad(sd['pos_embed'], (0, 0, 1, 0))  # timm's CLS slot: a zero position
    ref.load_state_dict(sd, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        final, mine = ours.forward_intermediates(x, [3, 0, -2], return_prefix_tokens=True)
        theirs = ref.forward_intermediates(x, [0, 2, 3], return_prefix_tokens=True,
                                           intermediates_only=True)
        theirs = dict(zip([0, 2, 3], theirs))
        for (maps, prefix), block in zip(mine, [3, 0, 2]):
            torch.testing.assert_close(maps, theirs[block][0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(prefix, theirs[block][1], atol=1e-5, rtol=1e-5)
        normed = ours.forward_intermediates(x, 2, norm=True, output_fmt='NLC',
                                            intermediates_only=True)
        for tokens, block in zip(normed, [2, 3]):
            expected = ref.fc_norm(theirs[block][0].flatten(2).transpose(1, 2))
            torch.testing.assert_close(tokens, expected, atol=1e-5, rtol=1e-5)
        expected_final = ref.fc_norm(ref.forward_features(x))
    torch.testing.assert_close(final, expected_final, atol=1e-5, rtol=1e-5)
    assert mine[0][0].shape == (2, 64, 4, 4) and mine[0][1].shape == (2, 1, 64)


def test_forward_intermediates_norm_last_and_bad_arguments():
    vit = VisionTransformer(img_size=64, patch_size=16, **TINY).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        raw = vit.forward_intermediates(x, [1, 3], output_fmt='NLC', intermediates_only=True)
        last = vit.forward_intermediates(x, [1, 3], norm='last', output_fmt='NLC',
                                         intermediates_only=True)
    assert torch.equal(last[0], raw[0])  # only the last block passes through the final norm
    torch.testing.assert_close(last[1], vit.norm(raw[1]))
    assert not torch.allclose(last[1], raw[1])
    with pytest.raises(IndexError, match=r'block indices \[4\] do not exist in a ViT of depth 4'):
        vit.forward_intermediates(x, [0, 4])
    with pytest.raises(ValueError, match="output_fmt must be 'NCHW' or 'NLC'"):
        vit.forward_intermediates(x, output_fmt='NHWC')


def _from_timm(ref):
    """timm ViT weights -> ours: the head dropped, and positions of prefix slots (a table with a
    CLS slot, timm's no_embed_class=False) folded into the tokens, which have no position here."""
    sd = {k: v for k, v in ref.state_dict().items() if not k.startswith('head.')}
    if not ref.no_embed_class and ref.num_prefix_tokens:
        slots, sd['pos_embed'] = sd['pos_embed'][:, :ref.num_prefix_tokens], \
            sd['pos_embed'][:, ref.num_prefix_tokens:]
        sd['cls_token'] = sd['cls_token'] + slots[:, :1]
        if 'reg_token' in sd:
            sd['reg_token'] = sd['reg_token'] + slots[:, 1:]
    return sd


def _randomise(model):
    """Every parameter away from its initial value (layer scale and prefix tokens start near 0,
    the norms at 1), so that a misplaced one shows."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5 if p.dim() == 1 else 0.1)


@pytest.mark.parametrize('name,timm_kwargs,ours', [
    ('vit_small_patch14_reg4_dinov2', dict(img_size=56, patch_size=14),
     dict(img_size=56, patch_size=14, num_reg_tokens=4, layer_scale_init=1e-5)),
    ('deit3_small_patch16_224', dict(img_size=64), dict(img_size=64, layer_scale_init=1e-6)),
])
def test_registers_and_layer_scale_match_timm(name, timm_kwargs, ours):
    import timm
    ref = timm.create_model(name, pretrained=False, embed_dim=64, depth=2, num_heads=4,
                            **timm_kwargs).eval()
    _randomise(ref)
    vit = VisionTransformer(embed_dim=64, depth=2, num_heads=4, pos_embed='learned',
                            use_cls_token=True, **ours).eval()
    vit.load_state_dict(_from_timm(ref), strict=True)
    x = torch.randn(2, 3, ours['img_size'], ours['img_size'])
    with torch.no_grad():
        final, mine = vit.forward_intermediates(x, [0, 1], norm=True, return_prefix_tokens=True,
                                                output_fmt='NLC')
        ref_final, theirs = ref.forward_intermediates(x, indices=[0, 1], norm=True,
                                                      return_prefix_tokens=True, output_fmt='NLC')
    assert mine[0][1].shape == (2, ref.num_prefix_tokens, 64)
    for (patches, prefix), (ref_patches, ref_prefix) in zip(mine, theirs):
        torch.testing.assert_close(patches, ref_patches, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(prefix, ref_prefix, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(final, ref_final, atol=1e-5, rtol=1e-5)


def test_fc_norm_readouts_match_timms_average_pooled_head():
    """An fc_norm model (MAE fine-tuning's layout) reads averages and the CLS token through
    fc_norm, as timm's heads with fc_norm do (global_pool 'avg' and 'token'); its CLS slot position
    folds into the token."""
    import timm
    from transfer.features import IMAGENET_MEAN, IMAGENET_STD, probe_features
    ref = timm.create_model('vit_small_patch16_224', pretrained=False, img_size=64, embed_dim=64,
                            depth=4, num_heads=4, global_pool='avg', num_classes=0).eval()
    _randomise(ref)
    vit = VisionTransformer(img_size=64, patch_size=16, pos_embed='learned', use_cls_token=True,
                            fc_norm=True, **TINY).eval()
    vit.load_state_dict(_from_timm(ref), strict=True)
    assert isinstance(vit.norm, torch.nn.Identity)
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    x = (images.float() - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / \
        torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        features = probe_features(vit, images, ('avg', 'concat4', 'cls'))
        pooled = ref.forward_head(ref.forward_features(x), pre_logits=True)
        layers = ref.forward_intermediates(x, indices=4, output_fmt='NLC', intermediates_only=True)
        concat4 = torch.cat([ref.fc_norm(t.mean(1)) for t in layers], -1)
        token = timm.create_model('vit_small_patch16_224', pretrained=False, img_size=64,
                                  embed_dim=64, depth=4, num_heads=4, global_pool='token',
                                  fc_norm=True, num_classes=0).eval()
        token.load_state_dict(ref.state_dict(), strict=True)
        cls = token.forward_head(token.forward_features(x), pre_logits=True)
    torch.testing.assert_close(features['avg'], pooled, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(features['concat4'], concat4, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(features['cls'], cls, atol=1e-5, rtol=1e-5)


def test_new_options_off_add_no_weights_and_a_unit_layer_scale_changes_nothing():
    """Without them the options add no state-dict key; a layer scale of exactly one is then the
    only difference between two models, and gives the same bits, packed rows included."""
    torch.manual_seed(0)
    kwargs = dict(img_size=64, patch_size=16, use_cls_token=True, window_size=2, **TINY)
    plain = VisionTransformer(**kwargs).eval()
    assert not [k for k in plain.state_dict()
                if k.startswith(('reg_token', 'fc_norm')) or '.ls' in k]
    scaled = VisionTransformer(layer_scale_init=1.0, **kwargs).eval()
    missing, unexpected = scaled.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == sorted(
        f'blocks.{i}.ls{j}.gamma' for i in range(4) for j in (1, 2))
    x = torch.randn(2, 3, 64, 80)
    keep = torch.randint(0, 20, (2, 9))
    valid = torch.rand(2, 9) > 0.3
    with torch.no_grad():
        for a, b in zip(plain.forward_intermediates(x, 4, return_prefix_tokens=True)[1],
                        scaled.forward_intermediates(x, 4, return_prefix_tokens=True)[1]):
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert torch.equal(plain.forward_masked(x, keep, valid),
                           scaled.forward_masked(x, keep, valid))


@pytest.mark.parametrize('regs', [0, 4])
def test_prefix_tokens_are_the_cls_then_the_registers(regs):
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=64, patch_size=16, use_cls_token=True, num_reg_tokens=regs,
                            **TINY)
    assert vit.num_prefix_tokens == 1 + regs
    assert (vit.reg_token is None) == (regs == 0)
    if regs:
        assert vit.reg_token.shape == (1, regs, 64) and vit.reg_token.std() > 0  # initialised
    tokens = vit._add_prefix(torch.zeros(2, 16, 64))
    assert torch.equal(tokens[:, 0], vit.cls_token[0].expand(2, -1))
    if regs:
        assert torch.equal(tokens[:, 1:1 + regs], vit.reg_token.expand(2, -1, -1))
    with pytest.raises(ValueError, match='num_reg_tokens'):
        VisionTransformer(num_reg_tokens=-1, **TINY)


@pytest.mark.parametrize('cls', [True, False])
def test_registers_under_windows_and_packed_rows(cls):
    """With 4 registers: one window over the whole grid is global attention, and packed rows
    keeping every patch give the full-grid forward."""
    torch.manual_seed(0)
    kwargs = dict(img_size=64, patch_size=16, use_cls_token=cls, num_reg_tokens=4, **TINY)
    windowed = VisionTransformer(window_size=5, **kwargs).eval()
    plain = VisionTransformer(**kwargs).eval()
    plain.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 3, 64, 64)
    everything = torch.arange(16).expand(2, -1)
    with torch.no_grad():
        reference = plain(x)
        torch.testing.assert_close(windowed(x), reference, atol=1e-5, rtol=1e-5)
        packed = plain.forward_masked(x, everything, torch.ones(2, 16, dtype=torch.bool))
        (patches, prefix), = plain.forward_intermediates(x, 1, norm=True,
                                                         return_prefix_tokens=True,
                                                         output_fmt='NLC')[1]
    torch.testing.assert_close(packed, reference, atol=1e-5, rtol=1e-5)
    assert prefix.shape == (2, int(cls) + 4, 64)
    torch.testing.assert_close(torch.cat([prefix, patches], 1), reference)
