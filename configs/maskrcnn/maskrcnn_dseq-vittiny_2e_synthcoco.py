# The COCO smoke run for a DSeq-JEPA encoder: with its CLS token, random init unless a checkpoint is
# given (--cfg-options model.backbone.init_cfg.checkpoint=PATH).
_base_ = './maskrcnn_ijepa-vittiny_2e_synthcoco.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True))
