# What I-JEPA and DSeq-JEPA pretraining share (SPEC section 2): ImageNet-1K train images with
# RandomResizedCrop(224, scale 0.3-1.0) only; batch 2048 = 8 GPUs x 256; AdamW, lr 1e-4 -> 1e-3 over
# 15 epochs then cosine to 1e-6, weight decay 0.04 -> 0.4 (cosine-shaped), none on biases and 1-D
# parameters; EMA momentum 0.996 -> 1.0 per iteration; bf16 autocast on GPU; 600 epochs.
# compile_blocks: the blocks' token-wise layers run through torch.compile (x1.15 steps/s for
# ViT-B/16 at batch 256 on an H200, tools/benchmark_pretrain.py); the first steps wait for
# compilation. The data root comes from IMAGENET_ROOT (default data/imagenet):
# <root>/train/<class>/<image> (and <root>/val/<class>/<image> for the kNN monitor).
_base_ = '../default_runtime.py'
custom_imports = dict(imports=['engine.checkpoint', 'pretrain', 'transfer'])

seed = 0
img_size = 224
patch_size = 16
warmup_epochs = 15
batch_size = 256  # per GPU

model = dict(
    data_preprocessor=dict(type='DecodingDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], non_blocking=True),
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
train_cfg = dict(type='PretrainLoop', max_epochs=600)

optim_wrapper = dict(
    type='BF16OptimWrapper',
    constructor='TrainableOptimWrapperConstructor',
    # fused: the wrapper skips a step with a non-finite loss on the device (found_inf)
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.04, fused=True),
    paramwise_cfg=dict(bias_decay_mult=0.0, flat_decay_mult=0.0))
# The cosines run to the end of training (the runner sets their `end` to train_cfg.max_epochs), so
# a run of another length changes train_cfg.max_epochs alone.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         by_epoch=True, begin=0, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=2048)

# runtime_info: the losses are read back from the device only where a line is logged or a
# checkpoint saved, not every iteration
default_hooks = dict(
    runtime_info=dict(type='PretrainRuntimeInfoHook'),
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=2500, max_keep_ckpts=2))
# kNN monitor (SPEC section 4b; transfer/knn.py): the target encoder's kNN top-1 (avg readout,
# k = 20, T = 0.07) every 25 epochs and at the end, logged as train/knn_top1. Bank: a class-balanced
# 10% of train (about 128,000 images); queries: a class-balanced 20% of val, 10 images per class
# (10,000), whose top-1 has a standard error of at most 0.5 points, well under what 25 epochs
# change, at a fifth of the cost of all 50,000. Both through the classification test pipeline
# (resize 256, centre crop 224); val must be in class folders, like train. Cost: 138,000 images
# forward only every 25 epochs against 25 x 1.28M training images (0.43% of the images) of about 3
# forward passes each, so 0.15% to 0.45% of the run (compute- or data-loading-bound). The monitor
# only logs: nothing is chosen on val.
_knn_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='ResizeShortEdge', size=img_size * 256 // 224, interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackProbeInputs')]
_knn_loader = dict(batch_size=batch_size, num_workers=10, persistent_workers=False, pin_memory=True,
                   sampler=dict(type='DefaultSampler', shuffle=False),
                   collate_fn=dict(type='default_collate'))
_knn_split = dict(type='ImageNetDataset', data_root='{{$IMAGENET_ROOT:data/imagenet}}',
                  pipeline=_knn_pipeline)
custom_hooks = [
    dict(type='TrainingProgressHook'),
    dict(type='PretrainLogHook'),
    dict(type='TargetRankHook', interval=50),
    dict(type='KNNMonitorHook', interval=25, readout='avg', k=20, temperature=0.07,
         bank_dataloader=dict(**_knn_loader, dataset=dict(
             type='ClassBalancedSubset', dataset=dict(**_knn_split, split='train'), fraction=0.1,
             seed=seed)),
         query_dataloader=dict(**_knn_loader, dataset=dict(
             type='ClassBalancedSubset', dataset=dict(**_knn_split, split='val'), fraction=0.2,
             seed=seed))),
]
log_processor = dict(by_epoch=False)

model_wrapper_cfg = dict(type='DeviceAwareDDP')
randomness = dict(seed=seed)
