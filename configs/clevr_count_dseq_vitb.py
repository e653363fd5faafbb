# CLEVR Count (objects - 3, 8 classes): linear probe on the frozen DSeq-JEPA ViT-B/16 target encoder, VTAB-1k splits.
# Readouts side by side: the last block's CLS token (the paper's) and the average of its patch tokens
# (like for like with I-JEPA). Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./clevr_count_ijepa_vitb.py']
pretrain_method = 'dseq'
model = dict(
    backbone=dict(use_cls_token=True,
                  init_cfg=dict(checkpoint='checkpoints/dseq_vitb16_in1k.pth')),
    readouts=('cls', 'avg'))
