# ImageNet-1k 1% low-shot fine-tuning of the I-JEPA ViT-H/14 target encoder (224 pixels), I-JEPA's
# ViT-H/14 values (SPEC section 4e): finetune_ijepa-vitb16_50e_in1k-1pct.py (its 1% split,
# augmentation, head, lr 3e-5, batch 512 = 8 GPUs x 32 x 2 accumulated) with the ViT-H/14 encoder,
# weight decay 0.4 and layer decay 0.75 over its 32 blocks.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./finetune_ijepa-vitb16_50e_in1k-1pct.py', '../_base_/pretrained/vith14_in1k.py']
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32), optimizer=dict(weight_decay=0.4))
