# ImageNet-1k full fine-tuning of the DSeq-JEPA ViT-B/16 target encoder, the CLS-head variant
# (SPEC section 4d, MAE's --cls_token): the linear head reads the CLS token after the encoder's
# final LayerNorm; finetune_dseq-vitb16_100e_in1k.py otherwise.
_base_ = './finetune_dseq-vitb16_100e_in1k.py'
model = dict(pooling='cls')
report = dict(protocol='top-1 cls')
