# CPU smoke run of I-JEPA pretraining (about a minute): a 4-block, 64-wide ViT with patch 8 on 96x96
# crops (a 12x12 grid) of the synthetic image folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
# for 10 epochs, the first of them warm-up.
_base_ = './ijepa_vitb16_in1k.py'

img_size = 96
patch_size = 8
# eager blocks: compiling costs more than it saves on CPU and would move the tiny table's numbers
model = dict(
    encoder=dict(embed_dim=64, depth=4, num_heads=4, img_size=img_size, patch_size=patch_size,
                 compile_blocks=False),
    predictor=dict(width=32, depth=2, compile_blocks=False))
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=False, pin_memory=False,
    collate_fn=dict(input_size=img_size, patch_size=patch_size),
    dataset=dict(data_root='{{$SYNTH_IMAGENET_ROOT:data/synthetic_imagenet}}', crop_size=img_size))
train_cfg = dict(max_epochs=10)
# the recipe's schedulers with the warm-up ending after the first epoch
param_scheduler = [dict(_base_.param_scheduler[0], end=1),
                   dict(_base_.param_scheduler[1], begin=1), _base_.param_scheduler[2]]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10))
# Without the kNN monitor of the recipe: these runs pretrain on unlabelled folders
custom_imports = dict(imports=['engine.checkpoint', 'pretrain'])
custom_hooks = [h for h in _base_.custom_hooks if h['type'] != 'KNNMonitorHook']
