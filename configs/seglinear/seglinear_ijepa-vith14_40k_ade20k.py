# ADE20K linear probe, ViT-H/14 pretrained with I-JEPA (target encoder, no CLS token), frozen: the
# recipe of seglinear_ijepa-vitb16_40k_ade20k.py on the last block of ViT-H/14, the 512x512 crops
# padded to 518 = 37 x 14 and 518/341 sliding windows (_base_/models/seglinear_vith14.py says how).
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/seglinear_vith14.py',
    '../_base_/datasets/ade20k_512.py',
    '../_base_/schedules/seglinear_adamw_40k.py',
]
# the constructor checks its depth against the encoder's (its decay stays 1.0: none)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32))
# input_size: what the encoder reads, a padded crop or one window
report = dict(task='ADE20K linear', metrics={'mIoU': ('mIoU', 1)}, protocol=None,
              selection='last iteration, no selection', input_size=_base_.window)
