# ImageNet-1k kNN of the DSeq-JEPA encoder against the authors' 10% bank:
# knn_ijepa-vitb16_bank10_in1k.py with DSeq-JEPA's encoder and its CLS token as a third readout.
_base_ = './knn_ijepa-vitb16_bank10_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
