# CLEVR Count: attentive_ijepa-vitb16_100e_clevr-count.py on DSeq-JEPA's encoder, heads on its
# patch tokens (reported) and on its CLS token followed by them (cls_patches).
_base_ = './attentive_ijepa-vitb16_100e_clevr-count.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('patches', 'cls_patches'))
