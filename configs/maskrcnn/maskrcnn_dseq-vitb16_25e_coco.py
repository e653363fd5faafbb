# Mask R-CNN, ViT-B/16 pretrained with DSeq-JEPA (target encoder, with its CLS token), COCO 2017:
# maskrcnn_ijepa-vitb16_25e_coco.py, the paper recipe (SPEC section 4), with DSeq-JEPA's encoder.
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './maskrcnn_ijepa-vitb16_25e_coco.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
