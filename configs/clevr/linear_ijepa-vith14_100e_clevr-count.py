# CLEVR Count, linear probe on the frozen I-JEPA ViT-H/14 target encoder:
# linear_ijepa-vitb16_100e_clevr-count.py with I-JEPA's ViT-H/14 encoder
# (../_base_/pretrained/vith14_in1k.py: patch 14 at 224, a 16x16 grid), the rest as the ViT-B/16
# config has it.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./linear_ijepa-vitb16_100e_clevr-count.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
