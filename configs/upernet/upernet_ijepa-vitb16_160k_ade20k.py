# UperNet, ViT-B/16 pretrained with I-JEPA (target encoder, no CLS token), ADE20K 160k iterations at
# 512x512, the paper recipe (SPEC section 4). Reads suite checkpoints and the official I-JEPA
# release format alike. Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_vitb.py',
    '../_base_/datasets/ade20k_512.py',
    '../_base_/schedules/upernet_adamw_160k.py',
]
