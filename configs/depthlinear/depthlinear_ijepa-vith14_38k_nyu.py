# NYU-Depth v2 linear probe ("lin. 1"), ViT-H/14 pretrained with I-JEPA, frozen:
# depthlinear_ijepa-vitb16_38k_nyu.py on the 32-block, 1280-wide encoder, reading block 32's patch
# tokens. 480x640 and the 416x544 training crops are not whole patches of 14: the preprocessor
# pads images bottom/right to a multiple of 14 (490x644, 420x546) and depth maps with 0, which the
# loss ignores; at test time the padding is cut from the prediction before the metric.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./depthlinear_ijepa-vitb16_38k_nyu.py', '../_base_/pretrained/vith14_in1k.py']

pretrained = _base_.pretrained_vith14
data_preprocessor = dict(size_divisor=14, test_cfg=dict(size_divisor=14))
model = dict(
    data_preprocessor=data_preprocessor,
    # img_size 224, the pretraining grid (16x16), as the ViT-B configs keep ViT-B's
    backbone=dict(**_base_.vith14, out_indices=(31,), frozen_stages=32,
                  **pretrained[_base_.pretrain_method]),
    decode_head=dict(in_channels=[1280]),
    # one window covering the padded 490x644 image: whole-image inference with flip averaging
    test_cfg=dict(crop_size=(490, 644), stride=(490, 644)))
# the constructor checks its depth against the backbone's
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32))
report = dict(input_size=(490, 644))  # the padded image the encoder reads
