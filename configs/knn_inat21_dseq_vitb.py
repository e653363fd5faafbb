# iNat21 kNN on the frozen DSeq-JEPA ViT-B/16 target encoder: knn_inat21_ijepa_vitb.py with
# DSeq-JEPA's encoder and its CLS token as a third readout (the reported one stays concat4).
_base_ = './knn_inat21_ijepa_vitb.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
