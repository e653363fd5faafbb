# NYU-Depth v2 linear "+token", I-JEPA ViT-H/14: depthlinear_ijepa-vith14_38k_nyu.py with DINOv2's
# head as released, block 32's patch tokens with its average patch token broadcast beside them
# (I-JEPA has no CLS; the DSeq-JEPA config takes its CLS). MAE's published ViT-H/14 number was
# measured with this head (its CLS).
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear_ijepa-vith14_38k_nyu.py'
model = dict(decode_head=dict(token='avg'))
report = dict(task='NYU-Depth v2 linear +token')
