# ADE20K linear probe, ViT-H/14 pretrained with DSeq-JEPA (target encoder; its CLS token is not
# read): seglinear_ijepa-vith14_40k_ade20k.py with DSeq-JEPA's encoder.
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './seglinear_ijepa-vith14_40k_ade20k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
