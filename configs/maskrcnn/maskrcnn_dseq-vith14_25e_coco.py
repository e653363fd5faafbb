# Mask R-CNN, ViT-H/14 pretrained with DSeq-JEPA (target encoder, with its CLS token), COCO 2017:
# maskrcnn_ijepa-vith14_25e_coco.py with DSeq-JEPA's encoder.
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './maskrcnn_ijepa-vith14_25e_coco.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
