# Mask R-CNN, ViT-B/16 pretrained with I-JEPA (target encoder, no CLS token), COCO 2017, the paper
# recipe: maskrcnn_dseq_vitb.py with the other checkpoint. Reads suite checkpoints and the official
# I-JEPA release format alike.
_base_ = './maskrcnn_dseq_vitb.py'
pretrain_method = 'ijepa'
model = dict(
    backbone=dict(use_cls_token=False,
                  init_cfg=dict(checkpoint='checkpoints/ijepa_vitb16_in1k.pth')))
