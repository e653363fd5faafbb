# attentive_ijepa-vitb16_20e_in1k.py on I-JEPA's ViT-H/14 encoder (../_base_/pretrained/
# vith14_in1k.py: patch 14 at 224, 256 tokens of 1,280) with a pooler of 16 heads, its encoder's.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./attentive_ijepa-vitb16_20e_in1k.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]),
             pooler=dict(num_heads=16))
