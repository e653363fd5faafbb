# attentive_ijepa-vitb16_20e_in1k.py on DSeq-JEPA's encoder: heads on its patch tokens (reported)
# and, beside them, on its CLS token followed by the patch tokens (cls_patches).
_base_ = './attentive_ijepa-vitb16_20e_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('patches', 'cls_patches'))
