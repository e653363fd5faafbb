# The fast ImageNet-1k linear probe of the I-JEPA ViT-H/14: linear_ijepa-vitb16_fast_in1k.py with
# I-JEPA's ViT-H/14 encoder (../_base_/pretrained/vith14_in1k.py: patch 14 at 224, a 16x16 grid),
# the rest as the ViT-B/16 config has it. Its cached float16 features hold 6,400 values an image
# (concat4 5,120 + avg 1,280; DSeq-JEPA's cls adds 1,280): about 16 GB for the training set (20 GB
# with cls), in host memory.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./linear_ijepa-vitb16_fast_in1k.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
