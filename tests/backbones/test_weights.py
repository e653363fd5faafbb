"""Encoder weights in: the I-JEPA release format, suite checkpoints, strict errors, conversion."""
import subprocess
import sys

import pytest
import timm
import torch
import torch.nn.functional as F

from backbones import JEPAViT, VisionTransformer, encoder_state_dict, load_encoder_weights
from tests.helpers import ROOT

TINY = dict(embed_dim=64, depth=4, num_heads=4)


def _release_file(path, target: VisionTransformer, context: VisionTransformer) -> None:
    """Write a file shaped like the official I-JEPA release (DDP ``module.`` prefixes)."""
    wrap = lambda m: {f'module.{k}': v for k, v in m.state_dict().items()}  # noqa: E731
    torch.save(dict(encoder=wrap(context), target_encoder=wrap(target),
                    predictor={'module.predictor_embed.weight': torch.zeros(384, 768)},
                    opt={}, scaler=None, epoch=300, loss=0.1, batch_size=128, world_size=16,
                    lr=1e-3), path)


@pytest.mark.slow
def test_release_checkpoint_gives_the_features_of_timm_with_the_same_weights(tmp_path):
    torch.manual_seed(0)
    target, context = VisionTransformer('b'), VisionTransformer('b')
    _release_file(tmp_path / 'ijepa.pth.tar', target, context)
    ours = JEPAViT(arch='b', out_indices=(3, 5, 7, 11), init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'ijepa.pth.tar'))).eval()
    ours.init_weights()

    subprocess.run([sys.executable, f'{ROOT}/tools/convert_checkpoint.py',
                    str(tmp_path / 'ijepa.pth.tar'), str(tmp_path / 'timm'), '--to', 'timm'],
                   check=True, cwd=ROOT)
    ref = timm.create_model(f'local-dir:{tmp_path / "timm"}', pretrained=True).eval()
    assert (ref.global_pool, ref.cls_token) == ('avg', None)

    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        maps = ours(x)
        inter = ref.forward_intermediates(x, indices=[3, 5, 7, 11], intermediates_only=True)
    for ours_map, ref_map in zip(maps[:3], inter[:3]):
        torch.testing.assert_close(ours_map, ref_map, atol=1e-4, rtol=1e-4)
    last = ref.norm(inter[3].flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, 768, 14, 14)
    torch.testing.assert_close(maps[3], last, atol=1e-4, rtol=1e-4)
    # and the weights are the target encoder's, not the context encoder's
    assert torch.equal(ours.blocks[0].attn.qkv.weight, target.blocks[0].attn.qkv.weight)


def test_suite_checkpoint_target_by_default_context_on_request():
    torch.manual_seed(0)
    target, context = VisionTransformer(**TINY), VisionTransformer(**TINY)
    ckpt = {'meta': {'epoch': 3}, 'state_dict': {
        **{f'target_encoder.{k}': v for k, v in target.state_dict().items()},
        **{f'context_encoder.{k}': v for k, v in context.state_dict().items()},
        'predictor.mask_token': torch.zeros(1, 1, 32)}}
    for which, source in (('target', target), ('context', context)):
        model = VisionTransformer(**TINY)
        load_encoder_weights(model, encoder_state_dict(ckpt, which))
        for a, b in zip(model.state_dict().values(), source.state_dict().values()):
            assert torch.equal(a, b)


def test_unknown_layout_names_what_it_found():
    with pytest.raises(KeyError, match=r"ckpt.pth: no target encoder found.*\['model', 'step'\]"):
        encoder_state_dict({'model': {}, 'step': 1}, source='ckpt.pth')


def test_mismatches_are_all_named_and_nothing_is_loaded():
    torch.manual_seed(0)
    model = VisionTransformer(**TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sd = VisionTransformer(**TINY).state_dict()
    del sd['blocks.3.mlp.fc2.bias']
    sd['head.weight'] = torch.zeros(10, 64)
    sd['blocks.0.attn.qkv.weight'] = torch.zeros(10, 64)
    with pytest.raises(KeyError) as err:
        load_encoder_weights(model, sd, source='w.pth')
    message = str(err.value)
    for part in ('w.pth', 'missing keys: blocks.3.mlp.fc2.bias', 'unexpected keys: head.weight',
                 'mis-shaped keys: blocks.0.attn.qkv.weight (10, 64) vs model (192, 64)'):
        assert part in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_cls_token_mismatch_explains_the_methods():
    sd = VisionTransformer(use_cls_token=True, **TINY).state_dict()
    with pytest.raises(KeyError, match='unexpected keys: cls_token.*use_cls_token=True'):
        load_encoder_weights(VisionTransformer(**TINY), sd)


def test_position_table_from_another_grid_is_resampled():
    sd = VisionTransformer(img_size=224, pos_embed='learned', **TINY).state_dict()
    model = VisionTransformer(img_size=448, pos_embed='learned', **TINY)
    load_encoder_weights(model, sd)
    grid = sd['pos_embed'].reshape(1, 14, 14, 64).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(28, 28), mode='bicubic', align_corners=False)
    torch.testing.assert_close(model.pos_embed, expected.permute(0, 2, 3, 1).reshape(1, 784, 64))


@pytest.mark.slow
def test_converted_backbone_and_timm_files_load_strictly(tmp_path):
    torch.manual_seed(0)
    src = VisionTransformer('s', use_cls_token=True)
    torch.save({'state_dict': {f'target_encoder.{k}': v for k, v in src.state_dict().items()}},
               tmp_path / 'dseq.pth')
    for layout, out in (('backbone', 'backbone.pth'), ('timm', 'timm')):
        subprocess.run([sys.executable, f'{ROOT}/tools/convert_checkpoint.py',
                        str(tmp_path / 'dseq.pth'), str(tmp_path / out), '--to', layout],
                       check=True, cwd=ROOT)
    vit = JEPAViT(arch='s', out_indices=(11,), use_cls_token=True, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'backbone.pth')))
    vit.init_weights()
    assert torch.equal(vit.cls_token, src.cls_token)
    ref = timm.create_model(f'local-dir:{tmp_path / "timm"}', pretrained=True).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ours = src.eval()(x)
        theirs = ref.forward_features(x)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    assert torch.equal(ref.forward_head(theirs, pre_logits=True), theirs[:, 0])  # CLS pooling


def _sincos_reference(dim: int, side: int) -> torch.Tensor:
    """MAE's 2-D sin-cos table, written out: the first half of the channels encodes the column,
    the second the row; each half is sin then cos of position x 1/10000^(2i/half)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing='ij')
    halves = []
    for coord in (cols.flatten(), rows.flatten()):
        angles = coord[:, None].double() * omega[None]
        halves.append(torch.cat([angles.sin(), angles.cos()], 1))
    return torch.cat(halves, 1).float()[None]


def test_fixed_position_table_from_another_grid_is_resampled_by_default():
    """SPEC 4: positions are interpolated (bicubic) to the new grid, fixed sin-cos tables too."""
    sd = VisionTransformer(img_size=224, **TINY).state_dict()
    model = VisionTransformer(img_size=448, **TINY)
    load_encoder_weights(model, sd)
    grid = sd['pos_embed'].reshape(1, 14, 14, 64).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(28, 28), mode='bicubic', align_corners=False)
    torch.testing.assert_close(model.pos_embed, expected.permute(0, 2, 3, 1).reshape(1, 784, 64))
    assert not torch.allclose(model.pos_embed, _sincos_reference(64, 28), atol=1e-3)
    assert torch.equal(model.blocks[0].attn.qkv.weight, sd['blocks.0.attn.qkv.weight'])


def test_fixed_position_table_from_another_grid_is_recomputed_on_request():
    sd = VisionTransformer(img_size=224, **TINY).state_dict()
    model = VisionTransformer(img_size=448, pos_embed_resize='recompute', **TINY)
    load_encoder_weights(model, sd)
    torch.testing.assert_close(model.pos_embed, _sincos_reference(64, 28), atol=1e-6, rtol=0)
    assert torch.equal(model.blocks[0].attn.qkv.weight, sd['blocks.0.attn.qkv.weight'])
