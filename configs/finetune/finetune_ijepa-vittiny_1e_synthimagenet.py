# CPU smoke run of full fine-tuning (MAE's recipe, ../_base_/schedules/finetune_adamw_100e.py) on
# the suite's tiny encoder (6 blocks, 96 wide, 3 heads; random init unless init_cfg.checkpoint is
# given) at 192x192 and the synthetic ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
# One epoch at batch 32 (18 iterations on 600 images), its first half the warm-up, fp32 in one
# process; lr = 5e-4 x 32 / 256, the recipe's rule; layer decay 0.65 over the 6 blocks. About 30 s
# on 2 idle CPU cores with 600 images per split.
_base_ = ['../_base_/models/finetune_vitb.py',
          '../_base_/datasets/synthimagenet_finetune_192.py',
          '../_base_/schedules/finetune_adamw_100e.py']
model = dict(
    backbone=dict(embed_dim=96, depth=6, num_heads=3, img_size=192,
                  init_cfg=dict(checkpoint=None)),
    num_classes=_base_.num_classes)
max_epochs = 1
warmup_epochs = 0.5
lr = _base_.base_lr * _base_.train_dataloader.batch_size / 256
train_cfg = dict(max_epochs=max_epochs)
# fp32 on CPU: AmpOptimWrapper needs a GPU; no accumulation
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=6, decay_rate=0.65),
    optimizer=dict(_base_.optim_wrapper.optimizer, lr=lr))
param_scheduler = [dict(_base_.param_scheduler[0], end=warmup_epochs),
                   dict(_base_.param_scheduler[1], begin=warmup_epochs,
                        eta_min_ratio=_base_.min_lr / lr)]
default_hooks = dict(logger=dict(interval=1))
report = dict(task='synthetic ImageNet fine-tune', protocol='top-1 avg')
