# ImageNet-1k kNN on the frozen DSeq-JEPA ViT-H/14 target encoder: knn_dseq-vitb16_in1k.py with
# DSeq-JEPA's ViT-H/14 encoder (../_base_/pretrained/vith14_in1k.py: patch 14 at 224, a 16x16
# grid), the rest as the ViT-B/16 config has it. The full bank's float32 features (6,400 values an
# image; 7,680 with DSeq-JEPA's cls) take about 33 GB per process (39 GB with cls), in host
# memory.
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./knn_dseq-vitb16_in1k.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
