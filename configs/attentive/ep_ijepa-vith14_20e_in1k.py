# ep_ijepa-vitb16_20e_in1k.py on I-JEPA's ViT-H/14 encoder (256 tokens of 1,280; 40 channels per
# query): the setting of the only published attentive-probe number of I-JEPA, EP's 79.0 top-1
# (efficient-probing README, its own recipe).
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./ep_ijepa-vitb16_20e_in1k.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
