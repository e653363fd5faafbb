# NYU-Depth v2 "lin. 4 +token", I-JEPA ViT-B/16: blocks 3, 6, 9 and 12 (1-based), each with its
# average patch token broadcast beside its patch tokens (I-JEPA has no CLS).
_base_ = './depthlinear4_ijepa-vitb16_38k_nyu.py'
model = dict(decode_head=dict(token='avg'))
report = dict(task='NYU-Depth v2 linear 4 +token')
