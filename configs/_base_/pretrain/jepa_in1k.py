# What I-JEPA and DSeq-JEPA pretraining share (SPEC section 2): ImageNet-1K train images with
# RandomResizedCrop(224, scale 0.3-1.0) only; batch 2048 = 8 GPUs x 256; AdamW, lr 1e-4 -> 1e-3 over
# 15 epochs then cosine to 1e-6, weight decay 0.04 -> 0.4 (cosine-shaped), none on biases and 1-D
# parameters; EMA momentum 0.996 -> 1.0 per iteration; bf16 autocast on GPU; 600 epochs.
# compile_blocks: the blocks' token-wise layers run through torch.compile (x1.15 steps/s for ViT-B/16
# at batch 256 on an H200, tools/benchmark_pretrain.py); the first steps wait for compilation.
# The data root comes from IMAGENET_ROOT (default data/imagenet): <root>/train/<class>/<image>.
custom_imports = dict(imports=['engine.checkpoint', 'pretrain'], allow_failed_imports=False)
default_scope = 'mmengine'

seed = 0
img_size = 224
patch_size = 16
max_epochs = 600
warmup_epochs = 15
batch_size = 256  # per GPU

model = dict(
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]),
    encoder=dict(arch='b', img_size=img_size, patch_size=patch_size, compile_blocks=True),
    predictor=dict(width=384, depth=6, compile_blocks=True),
    ema_momentum=(0.996, 1.0))

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='StepBatchSampler'),
    collate_fn=dict(type='multiblock_collate', seed=seed, input_size=img_size,
                    patch_size=patch_size),
    dataset=dict(type='ImageFolderDataset', data_root='{{$IMAGENET_ROOT:data/imagenet}}',
                 split='train', crop_size=img_size, crop_scale=(0.3, 1.0), seed=seed))
train_cfg = dict(type='PretrainLoop', max_epochs=max_epochs)

optim_wrapper = dict(
    type='BF16OptimWrapper',
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.04),
    paramwise_cfg=dict(bias_decay_mult=0.0, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=2048)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=2500, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    dict(type='TrainingProgressHook'),
    dict(type='PretrainLogHook'),
    dict(type='TargetRankHook', interval=50),
]
log_processor = dict(by_epoch=False, window_size=50)

model_wrapper_cfg = dict(type='DeviceAwareDDP')
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=seed)
log_level = 'INFO'
load_from = None
resume = False
