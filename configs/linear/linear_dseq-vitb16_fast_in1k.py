# The fast linear probe of linear_dseq-vitb16_28e_in1k.py: linear_ijepa-vitb16_fast_in1k.py with
# DSeq-JEPA's encoder and its CLS token probed beside the patch tokens.
_base_ = './linear_ijepa-vitb16_fast_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
