# NYU-Depth v2 "lin. 4", I-JEPA ViT-B/16: depthlinear_ijepa-vitb16_38k_nyu.py on the patch tokens
# of blocks 3, 6, 9 and 12 (1-based; DINOv2's choice for ViT-S/B), concatenated along the channels.
_base_ = './depthlinear_ijepa-vitb16_38k_nyu.py'
model = dict(backbone=dict(out_indices=(2, 5, 8, 11)), decode_head=dict(in_channels=[768] * 4))
report = dict(task='NYU-Depth v2 linear 4')
