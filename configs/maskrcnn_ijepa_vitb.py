# Mask R-CNN, ViT-B/16 pretrained with I-JEPA (target encoder, no CLS token), COCO 2017, the paper
# recipe (SPEC section 4). Reads suite checkpoints and the official I-JEPA release format alike.
_base_ = [
    './_base_/models/maskrcnn_vitb_simplefpn.py',
    './_base_/datasets/coco_instance_1024.py',
    './_base_/schedules/maskrcnn_adamw_25e.py',
]
model = dict(
    backbone=dict(
        use_cls_token=False,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/ijepa_vitb16_in1k.pth',
                      encoder='target')))
