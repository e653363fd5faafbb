# ADE20K linear probe, ViT-B/16 pretrained with I-JEPA (target encoder, no CLS token), frozen: the
# DINOv2 recipe of SPEC section 4h (last block's patch tokens after the final norm, BN + 1x1 conv,
# 40k iterations of 512x512 crops, AdamW lr 1e-3 wd 1e-4, batch 16 = 8 GPUs x 2, slide 512/341,
# single-scale mIoU of the last iteration).
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/seglinear_vitb.py',
    '../_base_/datasets/ade20k_512.py',
    '../_base_/schedules/seglinear_adamw_40k.py',
]
report = dict(task='ADE20K linear', metrics={'mIoU': ('mIoU', 1)}, protocol=None,
              selection='last iteration, no selection', input_size=_base_.crop_size)
