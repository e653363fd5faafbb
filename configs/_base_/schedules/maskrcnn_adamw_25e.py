# 25 epochs, AdamW wd 0.1, one epoch of linear warm-up then cosine to 0 per iteration; validation
# every 5 epochs, a checkpoint every epoch (the last 3 kept); on mmdet's registries. No best
# checkpoint is kept: validation is val2017, the split reported, so the last epoch is reported.
_base_ = './dense_adamw_bf16.py'
default_scope = 'mmdet'

max_epochs = 25
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3),
    visualization=dict(type='DetVisualizationHook'))
visualizer = dict(type='DetLocalVisualizer')
