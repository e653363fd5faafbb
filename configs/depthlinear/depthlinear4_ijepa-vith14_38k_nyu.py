# NYU-Depth v2 "lin. 4", I-JEPA ViT-H/14: depthlinear_ijepa-vith14_38k_nyu.py on the patch tokens of
# blocks 8, 16, 24 and 32 (1-based; SPEC's extrapolation of DINOv2's quarters to 32 blocks).
_base_ = './depthlinear_ijepa-vith14_38k_nyu.py'
model = dict(backbone=dict(out_indices=(7, 15, 23, 31)), decode_head=dict(in_channels=[1280] * 4))
report = dict(task='NYU-Depth v2 linear 4')
