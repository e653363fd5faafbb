# The synthetic ImageNet smoke fine-tuning for a DSeq-JEPA encoder: with its CLS token (outside the
# average the head reads).
_base_ = './finetune_ijepa-vittiny_1e_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True))
