"""The backbone and neck build from mmdet's and mmseg's registries, as configs use them."""
import pytest
import torch

import backbones  # noqa: F401  (what custom_imports=['backbones'] does)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_backbone_and_neck_build_from_each_library(scope):
    models = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    vit = models.build(dict(type='JEPAViT', embed_dim=32, depth=4, num_heads=2,
                            out_indices=(0, 1, 2, 3), use_cls_token=True, window_size=2))
    neck = models.build(dict(type='SimpleFeaturePyramid', in_channels=[32] * 4, out_channels=16,
                             num_outs=5))
    outs = neck(vit(torch.randn(1, 3, 64, 64)))
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]


def test_missing_pretrained_checkpoint_says_how_to_set_it(tmp_path):
    vit = backbones.JEPAViT(embed_dim=32, depth=2, num_heads=2, out_indices=(1,), init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'absent.pth')))
    with pytest.raises(FileNotFoundError, match='absent.pth not found.*init_cfg.checkpoint=PATH'):
        vit.init_weights()
