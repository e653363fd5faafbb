# CPU smoke run of the COCO path: the I-JEPA Mask R-CNN recipe shrunk to the suite's tiny encoder (6
# blocks, 96 wide, 3 heads; windows with padding, random init unless init_cfg.checkpoint is given)
# on the synthetic COCO of
#   python tools/make_synthetic_data.py coco data/synthetic_coco
_base_ = './maskrcnn_ijepa-vitb16_25e_coco.py'

data_root = '{{$SYNTH_COCO_ROOT:data/synthetic_coco}}' + '/'
metainfo = dict(classes=('square', 'disc', 'triangle'))
num_classes = 3
width = 96

# The neck and heads shrunk with the encoder: 64 channels instead of 256 (and 256-wide box-head FC
# layers instead of 1024); at 256 their convolutions and RoIAlign were most of the stage's time.
channels = 64
model = dict(
    # img_size: the tiny pretraining's (configs/pretrain/*_vittiny_synthclevr.py), whose position
    # table each input grid is resampled from
    backbone=dict(embed_dim=width, depth=6, num_heads=3, img_size=192, out_indices=(1, 2, 3, 5),
                  window_size=4, with_cp=False, init_cfg=dict(checkpoint=None)),
    neck=dict(in_channels=[width] * 4, out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=channels),
                  bbox_head=dict(in_channels=channels, fc_out_channels=4 * channels,
                                 num_classes=num_classes),
                  mask_roi_extractor=dict(out_channels=channels),
                  mask_head=dict(in_channels=channels, conv_out_channels=channels,
                                 num_classes=num_classes)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=300),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))

# the recipe's pipelines at this scale
_scale = (320, 320)
train_pipeline = [dict(t, scale=_scale) if t.type == 'Resize' else t for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=_scale) if t.type == 'Resize' else t for t in _base_.test_pipeline]
report = dict(input_size=_scale)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, root_env='SYNTH_COCO_ROOT', metainfo=metainfo,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, root_env='SYNTH_COCO_ROOT', metainfo=metainfo,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
# fp32 on CPU: AmpOptimWrapper needs a GPU.
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     constructor='ViTLayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(num_layers=6, decay_rate=1.0),
                     optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.1))
# the recipe's schedule, its cosine ending with these epochs
param_scheduler = [_base_.param_scheduler[0], dict(_base_.param_scheduler[1], end=max_epochs)]
default_hooks = dict(logger=dict(interval=4))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
