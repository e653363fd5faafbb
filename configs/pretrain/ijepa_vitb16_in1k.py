# I-JEPA ViT-B/16 on ImageNet-1K, the paper recipe: 600 epochs at batch 2048.
#   bash tools/dist_pretrain.sh configs/pretrain/ijepa_vitb16_in1k.py 8
_base_ = '../_base_/pretrain/jepa_in1k.py'
model = dict(type='IJEPA')
