# ImageNet-1k 1% low-shot fine-tuning of the I-JEPA ViT-H/14 target encoder (224 pixels), I-JEPA's
# ViT-H/14 values (SPEC section 4e): finetune_ijepa-vitb16_50e_in1k-1pct.py with lr 3e-5, weight
# decay 0.4 and layer decay 0.75 over the 32 blocks; batch 512 = 8 GPUs x 32 x 2 accumulated.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/finetune_vitb.py', '../_base_/pretrained/vith14_in1k.py',
          '../_base_/datasets/imagenet_finetune.py',
          '../_base_/schedules/finetune_lowshot_adamw_50e.py']
pretrained = _base_.pretrained_vith14
model = dict(num_classes=_base_.num_classes, mixup=None, label_smoothing=0.1,
             backbone=dict(**_base_.vith14, drop_path_rate=0.0,
                           **pretrained[_base_.pretrain_method]))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32), optimizer=dict(weight_decay=0.4))
train_pipeline = [_base_.train_pipeline[0], dict(_base_.train_pipeline[1], re_prob=0.0)]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ImageSubset',
    dataset=dict(**_base_.dataset, split='train', pipeline=train_pipeline),
    subset_file='{{$IMAGENET_1PCT:data/imagenet_subsets/1percent.txt}}', seed=0))
report = dict(task='ImageNet-1k 1% fine-tune', protocol='top-1 avg',
              selection='last epoch, no selection; the SimCLR 1% list')
