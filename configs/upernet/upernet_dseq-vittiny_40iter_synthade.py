# The ADE20K smoke run for a DSeq-JEPA encoder: with its CLS token, random init unless a checkpoint
# is given (--cfg-options model.backbone.init_cfg.checkpoint=PATH).
_base_ = './upernet_ijepa-vittiny_40iter_synthade.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True))
