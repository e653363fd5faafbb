# ep_dseq-vitb16_20e_in1k.py on DSeq-JEPA's ViT-H/14 encoder.
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./ep_dseq-vitb16_20e_in1k.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
