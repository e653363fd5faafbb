# UperNet, ViT-B/16 pretrained with DSeq-JEPA (target encoder, with its CLS token), ADE20K:
# upernet_ijepa-vitb16_160k_ade20k.py, the paper recipe (SPEC section 4), with DSeq-JEPA's encoder.
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_ijepa-vitb16_160k_ade20k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
