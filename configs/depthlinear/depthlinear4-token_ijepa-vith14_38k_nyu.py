# NYU-Depth v2 "lin. 4 +token", I-JEPA ViT-H/14: depthlinear4_ijepa-vith14_38k_nyu.py (blocks 8, 16,
# 24, 32) with DINOv2's head as released, each block's average patch token beside its patch tokens
# (I-JEPA has no CLS).
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear4_ijepa-vith14_38k_nyu.py'
model = dict(decode_head=dict(token='avg'))
report = dict(task='NYU-Depth v2 linear 4 +token')
