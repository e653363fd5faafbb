"""Layer-wise lr decay and the weight-decay rule, built from mmdet's and mmseg's registries."""
import pytest
from torch import nn

from backbones import JEPAViT

DEPTH = 4


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = JEPAViT(embed_dim=32, depth=DEPTH, num_heads=2, out_indices=(3,),
                                use_cls_token=True, frozen_stages=1)
        self.head = nn.Linear(32, 2)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_lr_scales_and_weight_decay_per_parameter(scope):
    registry = __import__(f'{scope}.registry', fromlist=['OPTIM_WRAPPER_CONSTRUCTORS'])
    model, rate = Detector(), 0.5
    constructor = registry.OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='ViTLayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper',
                               optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.1)),
        paramwise_cfg=dict(num_layers=DEPTH, decay_rate=rate)))
    groups = constructor(model).optimizer.param_groups
    seen = {id(p): g for g in groups for p in g['params']}
    names = dict(model.named_parameters())

    def group(name):
        return seen[id(names[name])]

    # block 0 and the patch embedding are frozen: not in the optimizer at all
    assert id(names['backbone.blocks.0.attn.qkv.weight']) not in seen
    assert id(names['backbone.patch_embed.proj.weight']) not in seen
    for i in range(1, DEPTH):
        g = group(f'backbone.blocks.{i}.attn.qkv.weight')
        assert g['lr'] == pytest.approx(rate ** (DEPTH - i)) and g['weight_decay'] == 0.1
        assert group(f'backbone.blocks.{i}.attn.qkv.bias')['weight_decay'] == 0.0
        assert group(f'backbone.blocks.{i}.norm1.weight')['weight_decay'] == 0.0
    assert group('backbone.norm.weight')['lr'] == pytest.approx(1.0)
    assert group('head.weight')['lr'] == pytest.approx(1.0)
    assert group('head.weight')['weight_decay'] == 0.1
    assert sum(len(g['params']) for g in groups) == sum(p.requires_grad for p in model.parameters())


def test_cls_and_learned_positions_get_no_weight_decay():
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
    model = nn.Module()
    model.backbone = JEPAViT(embed_dim=32, depth=2, num_heads=2, out_indices=(1,),
                             use_cls_token=True, pos_embed='learned')
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='ViTLayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.1)),
        paramwise_cfg=dict(num_layers=2, decay_rate=0.5)))
    groups = constructor(model).optimizer.param_groups
    for p in (model.backbone.cls_token, model.backbone.pos_embed):  # layer 0, below block 0
        (g,) = [g for g in groups if any(q is p for q in g['params'])]
        assert g['weight_decay'] == 0.0 and g['lr'] == pytest.approx(0.5 ** 3)


def test_missing_num_layers_is_a_clear_error():
    from backbones import ViTLayerDecayOptimWrapperConstructor
    with pytest.raises(KeyError, match='paramwise_cfg.num_layers'):
        ViTLayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1.0)), dict())


def test_num_layers_other_than_the_backbones_depth_is_a_clear_error():
    from backbones import ViTLayerDecayOptimWrapperConstructor
    constructor = ViTLayerDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1.0)), dict(num_layers=DEPTH + 2, decay_rate=0.5))
    # a wrong depth would give some blocks lr scales above 1
    with pytest.raises(ValueError, match=f'num_layers is {DEPTH + 2}, but model.backbone has '
                                         f'{DEPTH} blocks'):
        constructor(Detector())
