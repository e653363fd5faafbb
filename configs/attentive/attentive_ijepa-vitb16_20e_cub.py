# CUB-200-2011 (official split; about 30 training images a class): V-JEPA 1's attentive-probe
# recipe (the V-JEPA-style depth-1 pooler, 12 heads) on the frozen I-JEPA ViT-B/16 target
# encoder's last-block patch tokens, cached once without augmentation
# (../_base_/schedules/attentive_cached_20e.py: 20 epochs of AdamW at batch 256, 9 heads, one
# process); the head best on a 10% class-balanced held-out slice of train is reported.
#   python tools/train.py configs/attentive/attentive_ijepa-vitb16_20e_cub.py --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/attentive_probe_vitb.py', '../_base_/datasets/cub_cls.py',
          '../_base_/schedules/attentive_cached_20e.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ClassBalancedSubset', part='rest', fraction=0.1, seed=0,
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.test_pipeline)))
model = dict(num_classes=_base_.num_classes, head_grid=_base_.attentive_grid)
report = dict(task='CUB-200-2011 attentive',
              metrics=dict(_delete_=True, **_base_.attentive_rows),
              protocol='top-1 patches',
              selection='head (lr, wd) best on a held-out slice of train')
