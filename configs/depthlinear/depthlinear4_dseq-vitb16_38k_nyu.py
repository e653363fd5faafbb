# NYU-Depth v2 "lin. 4", DSeq-JEPA ViT-B/16: depthlinear4_ijepa-vitb16_38k_nyu.py with DSeq-JEPA's
# encoder (its CLS token left out). Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear4_ijepa-vitb16_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
