# ImageNet-1k kNN of the DSeq-JEPA encoder against the authors' 10% bank:
# knn_in1k_ijepa_vitb_bank10.py with DSeq-JEPA's encoder and its CLS token as a third readout.
_base_ = './knn_in1k_ijepa_vitb_bank10.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
