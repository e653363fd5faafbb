# DSeq-JEPA ViT-H/14 (1280 wide, 32 blocks, 16 heads; predictor 384 x 12; saliency from block 26),
# 300 epochs: the I-JEPA ViT-H/14 recipe with DSeq-JEPA's model.
_base_ = './ijepa_vith14_in1k.py'
model = dict(type='DSeqJEPA', num_regions=5, min_area=0.15, curriculum='per_step',
             seed={{_base_.seed}})
