# ImageNet-1k full fine-tuning of the I-JEPA ViT-B/16 target encoder, MAE's recipe (SPEC section
# 4d): average-pooled patch tokens through a new fc_norm and a linear head
# (../_base_/models/finetune_vitb.py), timm's RandAugment, random erasing, Mixup / CutMix and label
# smoothing (../_base_/datasets/imagenet_finetune.py), 100 epochs of AdamW at base lr 5e-4 with
# layer decay 0.65, effective batch 1024 = 8 GPUs x 32 x 4 accumulated, bf16
# (../_base_/schedules/finetune_adamw_100e.py). Tested on the 50,000 val images after the last
# epoch.
#   bash tools/dist_train.sh configs/finetune/finetune_ijepa-vitb16_100e_in1k.py 8 --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/finetune_vitb.py', '../_base_/datasets/imagenet_finetune.py',
          '../_base_/schedules/finetune_adamw_100e.py']
model = dict(num_classes=_base_.num_classes)
report = dict(task='ImageNet-1k fine-tune', protocol='top-1 avg')
