# CPU smoke run of the 1% low-shot fine-tuning (../_base_/schedules/finetune_lowshot_adamw_50e.py:
# lr 3e-5, layer decay 0.75, label smoothing 0.1, RandAugment, no mixup, erasing or drop path) on
# the suite's tiny encoder at 192x192 and the synthetic ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
# The part is 5%, drawn class-balanced with seed 0 (its list written into the run folder): 1% of
# the 600 training images is 2 per class, too few for a batch; 5% is 10 per class. 4 epochs (one of
# warm-up) at batch 10, fp32 in one process; tested on the whole val split.
_base_ = ['../_base_/models/finetune_vitb.py',
          '../_base_/datasets/synthimagenet_finetune_192.py',
          '../_base_/schedules/finetune_lowshot_adamw_50e.py']
model = dict(
    backbone=dict(embed_dim=96, depth=6, num_heads=3, img_size=192, drop_path_rate=0.0,
                  init_cfg=dict(checkpoint=None)),
    num_classes=_base_.num_classes, mixup=None, label_smoothing=0.1)
max_epochs = 4
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs)
# fp32 on CPU: AmpOptimWrapper needs a GPU; no accumulation
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=6, decay_rate=0.75), optimizer=_base_.optim_wrapper.optimizer)
param_scheduler = [dict(_base_.param_scheduler[0], end=warmup_epochs),
                   dict(_base_.param_scheduler[1], begin=warmup_epochs)]
train_pipeline = [_base_.train_pipeline[0], dict(_base_.train_pipeline[1], re_prob=0.0)]
train_dataloader = dict(batch_size=10, dataset=dict(
    _delete_=True, type='ImageSubset',
    dataset=dict(**_base_.dataset, split='train', pipeline=train_pipeline),
    fraction=0.05, seed=0))
default_hooks = dict(logger=dict(interval=1))
report = dict(task='synthetic ImageNet 5% fine-tune', protocol='top-1 avg',
              selection='last epoch, no selection; a seeded class-balanced 5%')
