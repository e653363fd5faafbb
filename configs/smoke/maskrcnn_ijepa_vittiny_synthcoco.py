# The COCO smoke run for an I-JEPA encoder (no CLS token).
_base_ = ['./maskrcnn_dseq_vittiny_synthcoco.py']
pretrain_method = 'ijepa'
model = dict(backbone=dict(use_cls_token=False))
