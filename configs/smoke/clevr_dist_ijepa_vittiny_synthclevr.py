# The CLEVR Dist smoke probe for an I-JEPA encoder: no CLS token, so the patch-token readouts.
_base_ = ['./clevr_dist_dseq_vittiny_synthclevr.py']
pretrain_method = 'ijepa'
model = dict(backbone=dict(use_cls_token=False), readouts=('avg', 'concat4'))
