# Stanford Cars kNN on the frozen DSeq-JEPA ViT-B/16 target encoder: knn_ijepa-vitb16_cars.py with
# DSeq-JEPA's encoder and its CLS token as a third readout (the reported one stays concat4).
_base_ = './knn_ijepa-vitb16_cars.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
