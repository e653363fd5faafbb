# attentive4_ijepa-vitb16_20e_in1k.py on DSeq-JEPA's encoder: patch tokens (reported) and CLS +
# patch tokens.
_base_ = './attentive4_ijepa-vitb16_20e_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('patches', 'cls_patches'))
