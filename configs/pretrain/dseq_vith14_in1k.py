# DSeq-JEPA ViT-H/14 (1280 wide, 32 blocks, 16 heads; predictor 384 x 12), 300 epochs.
_base_ = './dseq_vitb16_in1k.py'
patch_size = 14
max_epochs = 300
model = dict(encoder=dict(arch='h', patch_size=patch_size), predictor=dict(depth=12))
train_dataloader = dict(collate_fn=dict(patch_size=patch_size))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=15,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=15, end=max_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
