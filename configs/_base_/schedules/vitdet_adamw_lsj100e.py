# The ViTDet schedule: 184,375 iterations at batch 64 (about 100 COCO epochs), AdamW lr 1e-4 wd 0.1,
# layer-wise lr decay 0.7, 250 warm-up iterations, steps at 89% and 96%, bf16 autocast.
_base_ = 'mmdet::_base_/default_runtime.py'

max_iters = 184375
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, decay_rate=0.7),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[163889, 177546], gamma=0.1),
]

auto_scale_lr = dict(enable=False, base_batch_size=64)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=3,
                    save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
