# The ViTDet recipe on the I-JEPA ViT-B/16: maskrcnn_dseq_vitb_vitdet_lsj100e.py with the other
# checkpoint.
_base_ = './maskrcnn_dseq_vitb_vitdet_lsj100e.py'
pretrain_method = 'ijepa'
model = dict(
    backbone=dict(use_cls_token=False,
                  init_cfg=dict(checkpoint='checkpoints/ijepa_vitb16_in1k.pth')))
