# The NYU-Depth v2 linear probe's smoke run for a DSeq-JEPA encoder: with its CLS token (left out
# of the head, as in the recipe), random init unless a checkpoint is given
# (--cfg-options model.backbone.init_cfg.checkpoint=PATH).
_base_ = './depthlinear_ijepa-vittiny_40iter_synthnyu.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True))
