# DSeq-JEPA ViT-L/16 (1024 wide, 24 blocks, 16 heads; predictor 384 x 12), 600 epochs.
_base_ = './dseq_vitb16_in1k.py'
model = dict(encoder=dict(arch='l'), predictor=dict(depth=12))
