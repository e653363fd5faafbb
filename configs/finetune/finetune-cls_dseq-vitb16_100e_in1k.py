# ImageNet-1k full fine-tuning of the DSeq-JEPA ViT-B/16 target encoder, the CLS-head variant
# (SPEC section 4d, MAE's --cls_token): the linear head reads the CLS token after the encoder's
# final LayerNorm; finetune_dseq-vitb16_100e_in1k.py otherwise.
_base_ = './finetune_dseq-vitb16_100e_in1k.py'
model = dict(pooling='cls')
# a task of its own: the leaderboard keeps one result per method, task and seed
report = dict(task='ImageNet-1k fine-tune (CLS head)',
              metrics=dict(_delete_=True, **{'accuracy/top1_cls': ('top-1 cls', 1)}),
              protocol='top-1 cls')
