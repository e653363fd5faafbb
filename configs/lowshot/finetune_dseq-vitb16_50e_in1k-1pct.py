# ImageNet-1k 1% low-shot fine-tuning of the DSeq-JEPA ViT-B/16 target encoder:
# finetune_ijepa-vitb16_50e_in1k-1pct.py with DSeq-JEPA's encoder, average pooling (the CLS token
# outside the average), like for like with I-JEPA.
_base_ = './finetune_ijepa-vitb16_50e_in1k-1pct.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
