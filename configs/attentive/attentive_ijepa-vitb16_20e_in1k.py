# ImageNet-1k (tested on the 50,000 val images): V-JEPA 1's attentive-probe recipe (SPEC section
# 4f) on the frozen I-JEPA ViT-B/16 target encoder's last-block patch tokens: the V-JEPA-style
# depth-1 pooler (one query, the cross-attention block with 12 heads and no output projection) and
# a linear layer, 20 epochs of AdamW over
# augmented images encoded anew every step, 8 GPUs x 128
# (../_base_/schedules/attentive_adamw_20e.py), 9 heads (lr x weight decay); the head best on a 2%
# class-balanced held-out slice of train is reported.
#   bash tools/dist_train.sh configs/attentive/attentive_ijepa-vitb16_20e_in1k.py 8 --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/attentive_probe_vitb.py', '../_base_/datasets/imagenet_cls.py',
          '../_base_/schedules/attentive_adamw_20e.py']
# held out: 2% of each class (26 of about 1,300), 25,600 images; the heads train on the rest
train_dataloader = dict(batch_size=128, dataset=dict(
    _delete_=True, type='ClassBalancedSubset', part='rest', fraction=0.02, seed=0,
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.attentive_train_pipeline)))
model = dict(num_classes=_base_.num_classes, head_grid=_base_.attentive_grid)
report = dict(task='ImageNet-1k attentive',
              metrics=dict(_delete_=True, **_base_.attentive_rows),
              protocol='top-1 patches',
              selection='head (lr, wd) best on a held-out slice of train')
