# ImageNet-1k full fine-tuning of the I-JEPA ViT-H/14 target encoder, I-JEPA's own recipe (SPEC
# section 4d; I-JEPA paper Appendix D), the one for the I-JEPA and DSeq-JEPA ViT-H rows: drop path
# 0.25, Mixup 0.8, CutMix 1.0 and MAE's RandAugment, 50 epochs at base lr 1e-4 (not scaled by
# batch), batch 528 = 8 GPUs x 22 x 3 accumulated, weight decay 0.04, layer decay 0.75 over the 32
# blocks (../_base_/schedules/finetune_ijepa_adamw_50e_vith.py). What the paper leaves unstated is
# MAE's, whose code it adapts: random erasing 0.25, label smoothing 0.1, warm-up, head and test as
# the ViT-B/16 config. The paper fine-tunes ViT-H/16 at 448 pixels (87.1 top-1); this runs at 224
# (a 16x16 grid), the encoders' pretraining resolution, so its number is not that setting's.
# MAE's ViT-H/14 recipe, like for like with MAE's 86.9: finetune-mae_ijepa-vith14_50e_in1k.py.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/finetune_vitb.py', '../_base_/pretrained/vith14_in1k.py',
          '../_base_/datasets/imagenet_finetune.py',
          '../_base_/schedules/finetune_ijepa_adamw_50e_vith.py']
pretrained = _base_.pretrained_vith14
model = dict(num_classes=_base_.num_classes,
             backbone=dict(**_base_.vith14, drop_path_rate=0.25,
                           **pretrained[_base_.pretrain_method]))
train_dataloader = dict(batch_size=22)  # per GPU: 528 = 8 x 22 x accumulative_counts 3
report = dict(task='ImageNet-1k fine-tune', protocol='top-1 avg')
