# UperNet on ViT-H/14 for ADE20K: upernet_vitb.py (global attention, drop path 0.1, gradient
# checkpointing, the 4x/2x/1x/0.5x rescale neck, PPM, the auxiliary FCN head on the third map) on
# the 32-block, 1280-wide encoder, features of blocks 7/15/23/31 (SPEC section 4, "ViT-H/14 for
# COCO and ADE20K"). Patch 14: 512 is not a multiple of 14, so crops and slide windows are 504 =
# 36 x 14 with the stride kept at 341, as in the DSeq-JEPA authors' ViT-H config; test images are
# padded to a multiple of 14 (the padding is cut from the prediction). The neck's levels have
# strides 3.5, 7, 14 and 28; the heads resize their output to the input, whatever the strides.
# Pair it with ../datasets/ade20k_504.py.
_base_ = ['./upernet_vitb.py', '../pretrained/vith14_in1k.py']

pretrained = _base_.pretrained_vith14
data_preprocessor = dict(size=(504, 504), test_cfg=dict(size_divisor=14))
model = dict(
    data_preprocessor=data_preprocessor,
    # img_size 224, the pretraining grid (16x16), as upernet_vitb.py keeps ViT-B's
    backbone=dict(**_base_.vith14, out_indices=(7, 15, 23, 31),
                  **pretrained[_base_.pretrain_method]),
    neck=dict(embed_dim=1280),  # ViT-H's width
    decode_head=dict(in_channels=[1280] * 4),
    auxiliary_head=dict(in_channels=1280),
    test_cfg=dict(crop_size=(504, 504)))
