# UperNet, ViT-H/14 pretrained with DSeq-JEPA (target encoder, with its CLS token), ADE20K:
# upernet_ijepa-vith14_160k_ade20k.py with DSeq-JEPA's encoder.
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_ijepa-vith14_160k_ade20k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
