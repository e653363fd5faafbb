# CPU smoke run of the ADE20K linear probe: the I-JEPA recipe shrunk to the suite's tiny encoder (6
# blocks, 96 wide, 3 heads, frozen whole, its last block read; random init unless
# init_cfg.checkpoint is given), 128x128 crops and 128/85 windows, on the synthetic ADE20K of
#   python tools/make_synthetic_data.py ade20k data/synthetic_ade
_base_ = './seglinear_ijepa-vitb16_40k_ade20k.py'

data_root = '{{$SYNTH_ADE_ROOT:data/synthetic_ade}}' + '/'
crop_size = (128, 128)
scale = (512, 128)  # the recipe's 2048x512 bound, scaled with the crop
width = 96
depth = 6

model = dict(
    data_preprocessor=dict(size=crop_size),
    # img_size: the tiny pretraining's (configs/pretrain/*_vittiny_synthclevr.py)
    backbone=dict(embed_dim=width, depth=depth, num_heads=3, img_size=192,
                  out_indices=(depth - 1,), frozen_stages=depth, init_cfg=dict(checkpoint=None)),
    decode_head=dict(in_channels=width),
    test_cfg=dict(crop_size=crop_size, stride=(85, 85)))

# the recipe's pipelines with the resize bound and the crop scaled down
_sizes = dict(RandomResize=dict(scale=scale), Resize=dict(scale=scale),
              RandomCrop=dict(crop_size=crop_size))
train_pipeline = [dict(t, **_sizes.get(t.type, {})) for t in _base_.train_pipeline]
test_pipeline = [dict(t, **_sizes.get(t.type, {})) for t in _base_.test_pipeline]
report = dict(input_size=crop_size)
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, root_env='SYNTH_ADE_ROOT', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, root_env='SYNTH_ADE_ROOT', pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# fp32 on CPU: AmpOptimWrapper needs a GPU. A higher lr than the recipe's, so that 40 iterations
# visibly lower the loss.
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     constructor='ViTLayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(num_layers=depth, decay_rate=1.0),
                     optimizer=dict(type='AdamW', lr=1e-2, betas=(0.9, 0.999), weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=5),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=5, end=max_iters),
]
log_interval = 5
default_hooks = dict(logger=dict(interval=log_interval), checkpoint=dict(interval=max_iters))
log_processor = dict(window_size=log_interval)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
