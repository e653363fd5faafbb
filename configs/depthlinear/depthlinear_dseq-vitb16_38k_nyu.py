# NYU-Depth v2 linear probe ("lin. 1"), ViT-B/16 pretrained with DSeq-JEPA (target encoder, with
# its CLS token, which this head leaves out): depthlinear_ijepa-vitb16_38k_nyu.py with DSeq-JEPA's
# encoder. Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear_ijepa-vitb16_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
