# ImageNet-1k 1% low-shot fine-tuning of the I-JEPA ViT-B/16 target encoder, I-JEPA's protocol
# (SPEC section 4e; I-JEPA paper Appendix A.2: MAE's fine-tuning code adapted): the whole encoder
# and a linear head on the average-pooled patch tokens (fc_norm), 50 epochs of AdamW, cosine,
# batch 512, layer decay 0.75, lr 3e-5, weight decay 0.05 (ViT-L/16's values: the paper has no
# ViT-B recipe) (../_base_/schedules/finetune_lowshot_adamw_50e.py); label-smoothed (0.1)
# cross-entropy and MAE's RandAugment, no mixup, cutmix, random erasing or drop path. Tested on the
# 50,000 val images after the last epoch.
#
# The 1% split is SimCLR's imagenet_subsets/1percent.txt (12,811 images, 12 or 13 per class; MSN's
# copy is the same file), read from IMAGENET_1PCT (default data/imagenet_subsets/1percent.txt): the
# standard list, so runs compare with published ones. Without the file, draw a seeded
# class-balanced 1% instead (its list is written into the run folder, to name with subset_file
# in later runs):
#   --cfg-options train_dataloader.dataset.subset_file=None train_dataloader.dataset.fraction=0.01
#   IMAGENET_1PCT=PATH bash tools/dist_train.sh \
#       configs/lowshot/finetune_ijepa-vitb16_50e_in1k-1pct.py 8 --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/finetune_vitb.py', '../_base_/datasets/imagenet_finetune.py',
          '../_base_/schedules/finetune_lowshot_adamw_50e.py']
model = dict(num_classes=_base_.num_classes, backbone=dict(drop_path_rate=0.0), mixup=None,
             label_smoothing=0.1)
train_pipeline = [_base_.train_pipeline[0], dict(_base_.train_pipeline[1], re_prob=0.0)]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ImageSubset',
    dataset=dict(**_base_.dataset, split='train', pipeline=train_pipeline),
    subset_file='{{$IMAGENET_1PCT:data/imagenet_subsets/1percent.txt}}', seed=0))
report = dict(task='ImageNet-1k 1% fine-tune', protocol='top-1 avg',
              selection='last epoch, no selection; the SimCLR 1% list')
