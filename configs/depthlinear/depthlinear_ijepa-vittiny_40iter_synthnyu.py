# CPU smoke run of the NYU-Depth v2 linear probe: the I-JEPA "lin. 1" recipe shrunk to the suite's
# tiny encoder (6 blocks, 96 wide, 3 heads, frozen whole, its last block read without the final
# norm; random init unless init_cfg.checkpoint is given) and to a quarter of NYU's resolution
# (frames resized to 120x160 at test time and padded to 128x160; 96x128 training crops of the
# border-cropped frame resized alike), on the synthetic NYU of
#   python tools/make_synthetic_data.py nyu data/synthetic_nyu
# The metric still compares at 480x640 inside the Eigen crop: the prediction is resized to the
# frame.
_base_ = './depthlinear_ijepa-vitb16_38k_nyu.py'

data_root = '{{$SYNTH_NYU_ROOT:data/synthetic_nyu}}' + '/'
scale = (160, 120)  # (width, height): a quarter of the 640x480 frames
crop_size = (96, 128)
test_window = (128, 160)  # 120x160 padded to whole patches
width = 96
depth = 6

model = dict(
    # img_size: the tiny pretraining's (configs/pretrain/*_vittiny_synthclevr.py)
    backbone=dict(embed_dim=width, depth=depth, num_heads=3, img_size=192,
                  out_indices=(depth - 1,), frozen_stages=depth, init_cfg=dict(checkpoint=None)),
    decode_head=dict(in_channels=[width],
                     # the recipe's 100 warm-up iterations of 38,400, shortened to the run
                     loss_decode=[dict(type='ScaleInvariantLogLoss', warm_up_iters=5),
                                  dict(type='LogDepthGradientLoss', loss_weight=0.5)]),
    test_cfg=dict(crop_size=test_window, stride=test_window))

# the recipe's pipelines at a quarter of the resolution: training frames resized after the border
# crop (depth by nearest neighbour), test frames resized before the depth is read at full size
_resize = dict(type='Resize', scale=scale, keep_ratio=True)
train_pipeline = []
for _t in _base_.train_pipeline:
    train_pipeline.append(dict(_t, crop_size=crop_size) if _t.type == 'RandomCrop' else _t)
    if _t.type == 'NYUCrop':
        train_pipeline.append(_resize)
test_pipeline = [_base_.test_pipeline[0], _resize, *_base_.test_pipeline[1:]]
report = dict(input_size=test_window)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, root_env='SYNTH_NYU_ROOT', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, root_env='SYNTH_NYU_ROOT', pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# fp32 on CPU: AmpOptimWrapper needs a GPU. Batches of 8, a short warm-up and a higher lr than the
# recipe's, so that 40 iterations visibly lower the loss of a head on a random encoder.
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     constructor='ViTLayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(num_layers=depth, decay_rate=1.0),
                     optimizer=dict(type='AdamW', lr=2e-2, betas=(0.9, 0.999), weight_decay=0.01),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=5),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=5, end=max_iters),
]
log_interval = 5
default_hooks = dict(logger=dict(interval=log_interval), checkpoint=dict(interval=max_iters))
log_processor = dict(window_size=log_interval)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
