# Mask R-CNN, ViT-B/16 pretrained with I-JEPA (target encoder, no CLS token), COCO 2017, the paper
# recipe (SPEC section 4). Reads suite checkpoints and the official I-JEPA release format alike.
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/maskrcnn_vitb_simplefpn.py',
    '../_base_/datasets/coco_instance_1024.py',
    '../_base_/schedules/maskrcnn_adamw_25e.py',
]
