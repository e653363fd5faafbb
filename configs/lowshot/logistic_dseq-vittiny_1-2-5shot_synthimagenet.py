# The few-shot smoke run for a DSeq-JEPA encoder: with its CLS token, the reported readout.
_base_ = './logistic_ijepa-vittiny_1-2-5shot_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True), readouts=('avg', 'cls'))
report = dict(protocol='top-1 5-shot cls')
