# ADE20K linear probe, ViT-B/16 pretrained with DSeq-JEPA (target encoder; its CLS token is not
# read): seglinear_ijepa-vitb16_40k_ade20k.py with DSeq-JEPA's encoder.
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './seglinear_ijepa-vitb16_40k_ade20k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
