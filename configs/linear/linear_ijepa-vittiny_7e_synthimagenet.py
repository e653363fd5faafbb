# CPU smoke run of the classification linear probe (SPEC section 4b's recipe,
# ../_base_/schedules/linear_sgd_28e.py, and its heads) on the suite's tiny encoder (6 blocks, 96
# wide, 3 heads; random init unless init_cfg.checkpoint is given) at 192x192 and the synthetic
# ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet --num-train 64 --num-val 24
# One process, or several over gloo: bash tools/dist_train.sh CONFIG 2.
_base_ = [
    '../_base_/models/linear_probe_vitb_bn.py',
    '../_base_/datasets/synthimagenet_cls_192.py',
    '../_base_/schedules/linear_sgd_28e.py',
]
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'pretrain', 'transfer'])
model = dict(
    backbone=dict(embed_dim=96, depth=6, num_heads=3, img_size=192,
                  init_cfg=dict(checkpoint=None)),
    num_classes=_base_.num_classes)
# the recipe's 28 epochs and its steps at 8/16/24 scaled down by 4
train_cfg = dict(max_epochs=7)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[2, 4, 6], gamma=0.1)]
default_hooks = dict(logger=dict(interval=1))
report = dict(task='synthetic ImageNet linear', protocol='top-1 concat4')
# CPU processes: gloo, and mmengine's DDP wrapper without device_ids (pretrain.DeviceAwareDDP)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
model_wrapper_cfg = dict(type='DeviceAwareDDP')
