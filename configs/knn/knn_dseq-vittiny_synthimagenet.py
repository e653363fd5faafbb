# The kNN smoke run for a DSeq-JEPA encoder: with its CLS token, so all three readouts.
_base_ = './knn_ijepa-vittiny_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True), readouts=('concat4', 'avg', 'cls'))
