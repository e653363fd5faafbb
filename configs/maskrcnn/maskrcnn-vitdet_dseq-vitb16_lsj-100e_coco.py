# The ViTDet recipe on the DSeq-JEPA ViT-B/16: maskrcnn-vitdet_ijepa-vitb16_lsj-100e_coco.py with
# DSeq-JEPA's encoder, the same backbone and checkpoint as maskrcnn_dseq-vitb16_25e_coco.py.
_base_ = './maskrcnn-vitdet_ijepa-vitb16_lsj-100e_coco.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
