# The fast linear probe of linear_in1k_dseq_vitb.py: linear_in1k_ijepa_vitb_fast.py with DSeq-JEPA's
# encoder and its CLS token probed beside the patch tokens.
_base_ = './linear_in1k_ijepa_vitb_fast.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
