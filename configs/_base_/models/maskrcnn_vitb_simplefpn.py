# Mask R-CNN on the suite's ViT-B/16 with the simple feature pyramid (SPEC section 4): features from
# blocks 3/5/7/11 (global attention), window 14 elsewhere, drop path 0.1, CLS dropped from the maps;
# I-JEPA's weights unless the config picks others (../pretrained/vitb16_in1k.py).
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', '../pretrained/vitb16_in1k.py']

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(_delete_=True, type='JEPAViT', arch='b', img_size=224, patch_size=16,
                  out_indices=(3, 5, 7, 11), window_size=14, drop_path_rate=0.1, with_cp=True,
                  **_base_.pretrained[_base_.pretrain_method]),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=[768, 768, 768, 768],
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        out_channels=256,
        num_outs=5))
