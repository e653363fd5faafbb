# ImageNet-1k kNN on the frozen DSeq-JEPA ViT-B/16 target encoder: knn_ijepa-vitb16_in1k.py with
# DSeq-JEPA's encoder and its CLS token as a third readout (the reported one stays concat4, as the
# authors exclude the CLS token).
_base_ = './knn_ijepa-vitb16_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
