# NYU-Depth v2 linear "+token", I-JEPA ViT-B/16: DINOv2's head as released, each block's patch
# tokens with a global token broadcast beside them; I-JEPA has no CLS, so the token is the block's
# average patch token (the DSeq-JEPA config takes its CLS).
_base_ = './depthlinear_ijepa-vitb16_38k_nyu.py'
model = dict(decode_head=dict(token='avg'))
report = dict(task='NYU-Depth v2 linear +token')
