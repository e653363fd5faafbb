# The synthetic ImageNet attentive smoke probe for a DSeq-JEPA encoder: with its CLS token, heads on
# the patch tokens (reported) and on the CLS token followed by them.
_base_ = './attentive_ijepa-vittiny_10e_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True), readouts=('patches', 'cls_patches'))
