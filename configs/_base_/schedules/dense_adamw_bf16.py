# What the dense transfer recipes share (SPEC section 4): AdamW lr 1e-4 (no weight decay on biases,
# 1-D parameters, positions, CLS) without layer decay, bf16 autocast, a total batch of 16 = 8 GPUs x
# 2, on the suite's encoder and data classes. Each recipe adds its weight decay, loop and schedule.
_base_ = '../default_runtime.py'
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer', 'transfer.coco',
                               'transfer.ade'])

val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, decay_rate=1.0),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999)))
# The recipes' total batch; --auto-scale-lr rescales lr for another one.
auto_scale_lr = dict(enable=False, base_batch_size=16)
