# NYU-Depth v2 "lin. 4 +token", DSeq-JEPA ViT-H/14: blocks 8, 16, 24 and 32, each with its CLS token
# broadcast beside its patch tokens (DINOv2's head as released).
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear4-token_ijepa-vith14_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(with_prefix_tokens=True, **_base_.pretrained[pretrain_method]),
             decode_head=dict(token='cls'))
