# The CLEVR Count smoke probe for a DSeq-JEPA encoder: with its CLS token, so all three readouts.
_base_ = './linear_ijepa-vittiny_100e_synthclevr-count.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True), readouts=('cls', 'avg', 'concat4'))
report = dict(protocol='top-1 cls')
