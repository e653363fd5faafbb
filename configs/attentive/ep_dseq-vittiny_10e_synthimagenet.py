# ep_ijepa-vittiny_10e_synthimagenet.py for a DSeq-JEPA encoder: patch tokens (reported) and CLS +
# patch tokens.
_base_ = './ep_ijepa-vittiny_10e_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True), readouts=('patches', 'cls_patches'))
