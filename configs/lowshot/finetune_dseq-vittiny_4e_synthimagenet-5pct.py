# The synthetic ImageNet 5% smoke fine-tuning for a DSeq-JEPA encoder: with its CLS token (outside
# the average the head reads).
_base_ = './finetune_ijepa-vittiny_4e_synthimagenet-5pct.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True))
