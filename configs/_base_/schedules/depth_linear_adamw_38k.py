# The frozen NYU-Depth v2 linear probes' schedule (SPEC section 4h, DINOv2's recipe): 38,400
# iterations, AdamW lr 5e-3 wd 0.01, 12,800 iterations of linear warm-up then cosine to 0, gradient
# norm clipped at 35, batch 16 = 8 GPUs x 2, bf16 autocast (the depth bins are weighted in
# float32); validation and a checkpoint every 6,400 iterations (the last kept), the last
# iteration reported: NYU's test split is the split reported, so no best checkpoint is selected on
# it (DINOv2's config keeps the best abs rel). The constructor leaves the frozen encoder out of the
# optimizer and exempts the head's bias from weight decay (the suite's rule).
_base_ = './upernet_adamw_160k.py'

max_iters = 38400
interval = 6400
warmup_iters = 12800
train_cfg = dict(max_iters=max_iters, val_interval=interval)
optim_wrapper = dict(optimizer=dict(lr=5e-3, weight_decay=0.01),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
# one checkpoint kept, the last (what a resume needs): each holds the frozen encoder too, 2.5 GB
# for a ViT-H, and a probe runs for several seeds
default_hooks = dict(checkpoint=dict(interval=interval, max_keep_ckpts=1))
# the crops are all the same size (416x544), so cuDNN's search for the fastest kernels pays off
env_cfg = dict(cudnn_benchmark=True)
# the head and its losses, and NYU's classes (../datasets/nyu_depth.py leaves its imports here:
# mmengine refuses a key that two bases of one config both set)
custom_imports = dict(imports=_base_.custom_imports.imports + ['transfer.linear_depth_head',
                                                               'transfer.nyu'])
