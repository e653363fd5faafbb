# The ADE20K linear probe's smoke run for a DSeq-JEPA encoder: with its CLS token (not read), random
# init unless a checkpoint is given (--cfg-options model.backbone.init_cfg.checkpoint=PATH).
_base_ = './seglinear_ijepa-vittiny_40iter_synthade.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True))
