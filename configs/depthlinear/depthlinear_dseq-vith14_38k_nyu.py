# NYU-Depth v2 linear probe ("lin. 1"), ViT-H/14 pretrained with DSeq-JEPA (its CLS token left out
# of the head): depthlinear_ijepa-vith14_38k_nyu.py with DSeq-JEPA's encoder.
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear_ijepa-vith14_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
