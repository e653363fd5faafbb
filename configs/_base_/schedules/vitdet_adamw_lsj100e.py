# The ViTDet schedule: 184,375 iterations at batch 64 (about 100 COCO epochs), layer-wise lr decay
# 0.7, 250 warm-up iterations, steps at 89% and 96%; otherwise as maskrcnn_adamw_25e.py.
_base_ = './maskrcnn_adamw_25e.py'

max_iters = 184375
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.7))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[163889, 177546], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
