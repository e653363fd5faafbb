# NYU-Depth v2 "lin. 4 +token", DSeq-JEPA ViT-B/16: DINOv2's "lin. 4" head as released, blocks 3,
# 6, 9 and 12 (1-based), each with its CLS token broadcast beside its patch tokens.
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './depthlinear4-token_ijepa-vitb16_38k_nyu.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(with_prefix_tokens=True, **_base_.pretrained[pretrain_method]),
             decode_head=dict(token='cls'))
