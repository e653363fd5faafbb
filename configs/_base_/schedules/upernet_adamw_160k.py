# 160k iterations, AdamW wd 0.05, 1500 iterations of linear warm-up then poly (power 1) to 0;
# validation and a checkpoint every 16k iterations (the last 3 kept); on mmseg's registries. No best
# checkpoint is kept: validation is the split reported, so the last iteration is reported.
_base_ = './dense_adamw_bf16.py'
default_scope = 'mmseg'

max_iters = 160000
interval = 16000
warmup_iters = 1500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=interval)
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=interval, max_keep_ckpts=3),
    visualization=dict(type='SegVisualizationHook'))
# each logged value is the mean of the last 10 iterations, as mmseg's runtime has it
log_processor = dict(by_epoch=False, window_size=10)
# the crops are all 512x512, so cuDNN's search for the fastest kernels pays off
env_cfg = dict(cudnn_benchmark=True)
visualizer = dict(type='SegLocalVisualizer')
