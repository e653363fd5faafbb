# ImageNet-1k full fine-tuning of the DSeq-JEPA ViT-B/16 target encoder:
# finetune_ijepa-vitb16_100e_in1k.py with DSeq-JEPA's encoder. The head reads the average of the
# patch tokens through fc_norm, as for I-JEPA (like for like, SPEC section 4d); the CLS token takes
# part in attention but not in the average (finetune-cls_dseq-vitb16_100e_in1k.py reads it).
_base_ = './finetune_ijepa-vitb16_100e_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
