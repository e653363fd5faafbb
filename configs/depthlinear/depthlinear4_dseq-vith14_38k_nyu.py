# NYU-Depth v2 "lin. 4", DSeq-JEPA ViT-H/14: depthlinear4_ijepa-vith14_38k_nyu.py with DSeq-JEPA's
# encoder. Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear4_ijepa-vith14_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
