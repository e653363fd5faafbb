# CPU smoke run of the cached attentive probe (../_base_/schedules/attentive_cached_20e.py) on the
# suite's tiny encoder (6 blocks, 96 wide, 3 heads; random init unless init_cfg.checkpoint is given)
# at 192x192 and the synthetic ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet --num-train 64 --num-val 24
# in one process: a depth-1 pooler of 3 heads (144 tokens of 96), 2 heads (lr x weight decay)
# chosen on a quarter of each class held out of train, 10 epochs at batch 32.
_base_ = ['../_base_/models/attentive_probe_vitb.py',
          '../_base_/datasets/synthimagenet_cls_192.py',
          '../_base_/schedules/attentive_cached_20e.py']
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'pretrain', 'transfer'])
model = dict(
    backbone=dict(embed_dim=96, depth=6, num_heads=3, img_size=192,
                  init_cfg=dict(checkpoint=None)),
    num_classes=_base_.num_classes,
    pooler=dict(num_heads=3),
    head_grid=dict(lr_scales=(1.0, 3.0), weight_decays=(1e-3,)))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ClassBalancedSubset', part='rest', fraction=0.25, seed=0,
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.test_pipeline)))
train_cfg = dict(max_epochs=10, batch_size=32)
default_hooks = dict(logger=dict(interval=5))
report = dict(task='synthetic ImageNet attentive',
              metrics=dict(_delete_=True, **_base_.attentive_rows),
              protocol='top-1 patches',
              selection='head (lr, wd) best on a held-out slice of train')
