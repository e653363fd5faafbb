# The fast synthetic ImageNet smoke probe for a DSeq-JEPA encoder: with its CLS token, so all three
# readouts.
_base_ = './linear_ijepa-vittiny_fast_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True), readouts=('concat4', 'avg', 'cls'))
