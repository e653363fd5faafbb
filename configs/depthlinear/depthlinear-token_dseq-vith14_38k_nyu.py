# NYU-Depth v2 linear "+token", DSeq-JEPA ViT-H/14: DINOv2's head as released, block 32's CLS token
# broadcast beside its patch tokens (the backbone returns the prefix tokens for it).
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear-token_ijepa-vith14_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(with_prefix_tokens=True, **_base_.pretrained[pretrain_method]),
             decode_head=dict(token='cls'))
