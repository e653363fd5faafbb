"""How the position table meets a patch grid other than the stored one (``pos_embed_resize``),
against a forward written here: the patch embedding as a convolution, the table resampled with
``F.interpolate`` or recomputed, a CLS token with no position, then timm's blocks on the same
weights."""
import pytest
import timm
import torch
import torch.nn.functional as F

from backbones import VisionTransformer
from backbones.pos_embed import sincos_2d

DIM = 64
#: pretrained at 192 px: a 12x12 grid of 16-pixel patches
PRETRAINED = dict(img_size=192, patch_size=16, embed_dim=DIM, depth=2, num_heads=4,
                  use_cls_token=True)
#: inputs off the stored grid: a larger square one and a non-square one
SIZES = [(224, 224), (160, 256)]


def _bicubic(table, old, new):
    """The stored (1, rows*cols, D) table resized as the reference code does."""
    maps = table.reshape(1, *old, DIM).permute(0, 3, 1, 2)
    maps = F.interpolate(maps, size=new, mode='bicubic', align_corners=False)
    return maps.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], DIM)


def _reference_forward(vit, x, table):
    """Every token after the final norm, given the position table of ``x``'s grid."""
    ref = timm.create_model('vit_small_patch16_224', pretrained=False, img_size=192,
                            embed_dim=DIM, depth=2, num_heads=4, no_embed_class=True,
                            num_classes=0).eval()
    ref.load_state_dict(vit.state_dict(), strict=True)
    proj = vit.patch_embed.proj
    tokens = F.conv2d(x, proj.weight, proj.bias, stride=16).flatten(2).transpose(1, 2) + table
    tokens = torch.cat([vit.cls_token.expand(x.shape[0], -1, -1), tokens], 1)  # no position
    return ref.norm(ref.blocks(tokens))


def _model(pos_embed, resize):
    torch.manual_seed(0)
    vit = VisionTransformer(pos_embed=pos_embed, pos_embed_resize=resize, **PRETRAINED).eval()
    if pos_embed == 'learned':
        with torch.no_grad():
            vit.pos_embed.add_(torch.randn_like(vit.pos_embed))  # a table sin-cos is not
    return vit


@pytest.mark.parametrize('size', SIZES)
@pytest.mark.parametrize('pos_embed', ['sincos', 'learned'])
def test_bicubic_resamples_the_stored_table(pos_embed, size):
    vit = _model(pos_embed, 'bicubic')
    grid = (size[0] // 16, size[1] // 16)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = _reference_forward(vit, x, _bicubic(vit.pos_embed, (12, 12), grid))
        torch.testing.assert_close(vit(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('size', SIZES)
def test_recompute_computes_sincos_at_the_new_grid_and_differs_from_bicubic(size):
    vit = _model('sincos', 'recompute')
    grid = (size[0] // 16, size[1] // 16)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        recomputed = vit(x)
        torch.testing.assert_close(
            recomputed, _reference_forward(vit, x, sincos_2d(DIM, grid)), atol=1e-5, rtol=1e-5)
        vit.pos_embed_resize = 'bicubic'
        assert not torch.allclose(vit(x), recomputed, atol=1e-3)


@pytest.mark.parametrize('resize', ['bicubic', 'recompute'])
def test_the_stored_grid_reads_the_stored_table(resize):
    vit = _model('sincos', resize)
    assert vit.pos_embed_resize == resize
    assert vit.pos_embed_for((12, 12)) is vit.pos_embed


def test_a_resampled_table_follows_the_stored_one():
    """Nothing resampled is cached: a later load reaches the buffer's resample, and a learned
    table's gradient flows through its resample."""
    vit = _model('sincos', 'bicubic')
    before = vit.pos_embed_for((14, 14))
    other = torch.randn_like(vit.pos_embed)
    vit.load_state_dict(dict(vit.state_dict(), pos_embed=other))
    after = vit.pos_embed_for((14, 14))
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, _bicubic(other, (12, 12), (14, 14)))
    learned = _model('learned', 'bicubic').train()
    learned(torch.randn(1, 3, 224, 224)).sum().backward()
    assert learned.pos_embed.grad is not None and learned.pos_embed.grad.abs().sum() > 0


def test_bad_resize_options_are_refused():
    with pytest.raises(ValueError, match="'recompute'.*pos_embed='learned'"):
        VisionTransformer(pos_embed='learned', pos_embed_resize='recompute', **PRETRAINED)
    with pytest.raises(ValueError, match="pos_embed_resize must be 'bicubic' or 'recompute'"):
        VisionTransformer(pos_embed_resize='bilinear', **PRETRAINED)
