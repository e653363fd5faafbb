# The ViTDet recipe on the DSeq-JEPA ViT-B/16: maskrcnn_ijepa_vitb_vitdet_lsj100e.py with
# DSeq-JEPA's encoder, the same backbone and checkpoint as maskrcnn_dseq_vitb.py.
_base_ = './maskrcnn_ijepa_vitb_vitdet_lsj100e.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
