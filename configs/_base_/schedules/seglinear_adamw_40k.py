# The frozen linear probes' schedule (SPEC section 4h, DINOv2's ADE20K linear recipe): 40k
# iterations, AdamW lr 1e-3 wd 1e-4, 1500 iterations of linear warm-up then poly (power 1) to 0,
# batch 16 = 8 GPUs x 2, bf16 autocast; validation and a checkpoint every 8k iterations (the last
# kept), the last iteration reported. The constructor leaves the frozen encoder out of the
# optimizer; it exempts the head's biases and norm weights from weight decay (the suite's rule),
# where DINOv2's mmseg config decays every parameter.
_base_ = './upernet_adamw_160k.py'

max_iters = 40000
interval = 8000
warmup_iters = 1500
train_cfg = dict(max_iters=max_iters, val_interval=interval)
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
# one checkpoint kept, the last (what a resume needs): each holds the frozen encoder too, 2.5 GB
# for a ViT-H, and a probe runs for several seeds
default_hooks = dict(checkpoint=dict(interval=interval, max_keep_ckpts=1))
custom_imports = dict(imports=_base_.custom_imports.imports + ['transfer.linear_seg_head'])
