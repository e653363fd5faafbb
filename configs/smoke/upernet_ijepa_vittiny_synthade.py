# The ADE20K smoke run for an I-JEPA encoder (no CLS token).
_base_ = ['./upernet_dseq_vittiny_synthade.py']
pretrain_method = 'ijepa'
model = dict(backbone=dict(use_cls_token=False))
