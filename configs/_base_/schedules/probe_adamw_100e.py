# Linear-probe schedule (SPEC section 4): AdamW lr 1e-3 wd 0.05, batch 256, 100 epochs, cosine to 0
# per iteration, no warm-up, fp32. Validation every 10 epochs; the checkpoint with the best
# validation top-1 of the first readout is kept for tools/test.py.
default_scope = 'mmengine'
max_epochs = 100
train_cfg = dict(type='FeatureCacheTrainLoop', max_epochs=max_epochs, batch_size=256,
                 val_interval=10)
val_cfg = dict(type='FeatureCacheValLoop')
test_cfg = dict(type='FeatureCacheTestLoop')

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', interval=max_epochs, save_best='auto',
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True, window_size=10)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
log_level = 'INFO'
load_from = None
resume = False
