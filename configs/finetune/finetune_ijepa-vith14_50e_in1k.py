# ImageNet-1k full fine-tuning of the I-JEPA ViT-H/14 target encoder (224 pixels, a 16x16 grid),
# MAE's ViT-H/14 recipe (SPEC section 4d, mae FINETUNE.md): drop path 0.3, 50 epochs, base lr 1e-3,
# layer decay 0.75 over 32 blocks, effective batch 1024 (../_base_/schedules/
# finetune_adamw_50e_vith.py); augmentation, head and test as the ViT-B/16 config.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/finetune_vitb.py', '../_base_/pretrained/vith14_in1k.py',
          '../_base_/datasets/imagenet_finetune.py',
          '../_base_/schedules/finetune_adamw_50e_vith.py']
pretrained = _base_.pretrained_vith14
model = dict(num_classes=_base_.num_classes,
             backbone=dict(**_base_.vith14, drop_path_rate=0.3,
                           **pretrained[_base_.pretrain_method]))
report = dict(task='ImageNet-1k fine-tune', protocol='top-1 avg')
