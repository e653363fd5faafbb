# DSeq-JEPA ViT-S/16 (384 wide, 6 heads; predictor 384 x 6).
_base_ = './dseq_vitb16_in1k.py'
model = dict(encoder=dict(arch='s'))
