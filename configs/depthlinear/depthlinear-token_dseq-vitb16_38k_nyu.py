# NYU-Depth v2 linear "+token", DSeq-JEPA ViT-B/16: DINOv2's head as released, each block's CLS
# token broadcast beside its patch tokens (the backbone returns the prefix tokens for it).
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear-token_ijepa-vitb16_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(with_prefix_tokens=True, **_base_.pretrained[pretrain_method]),
             decode_head=dict(token='cls'))
