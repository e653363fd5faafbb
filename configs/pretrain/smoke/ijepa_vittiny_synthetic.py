# CPU smoke run of I-JEPA pretraining (about a minute): a 4-block, 64-wide ViT with patch 8 on 96x96
# crops (a 12x12 grid) of the synthetic image folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
_base_ = '../ijepa_vitb16_in1k.py'

img_size = 96
patch_size = 8
max_epochs = 10
# eager blocks: compiling costs more than it saves on CPU and would move the tiny table's numbers
model = dict(
    encoder=dict(embed_dim=64, depth=4, num_heads=4, img_size=img_size, patch_size=patch_size,
                 compile_blocks=False),
    predictor=dict(width=32, depth=2, compile_blocks=False))
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=False, pin_memory=False,
    collate_fn=dict(input_size=img_size, patch_size=patch_size),
    dataset=dict(data_root='{{$SYNTH_IMAGENET_ROOT:data/synthetic_imagenet}}', crop_size=img_size))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10))
