# DSeq-JEPA ViT-B/16 on ImageNet-1K: the I-JEPA recipe plus a CLS token, saliency from block 10,
# N = 5 regions of at least 15% of the grid, sequential prediction (prefix mode), DSeq steps with
# probability t / T.
#   bash tools/dist_pretrain.sh configs/pretrain/dseq_vitb16_in1k.py 8
_base_ = './ijepa_vitb16_in1k.py'
model = dict(type='DSeqJEPA', num_regions=5, min_area=0.15, curriculum='per_step',
             seed={{_base_.seed}})
