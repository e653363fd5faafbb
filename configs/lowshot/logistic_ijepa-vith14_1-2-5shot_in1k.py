# ImageNet-1k few-shot logistic regression on the frozen I-JEPA ViT-H/14 target encoder:
# logistic_ijepa-vitb16_1-2-5shot_in1k.py with I-JEPA's ViT-H/14 encoder
# (../_base_/pretrained/vith14_in1k.py: patch 14 at 224, a 16x16 grid), the rest as there.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./logistic_ijepa-vitb16_1-2-5shot_in1k.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
