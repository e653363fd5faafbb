# CPU smoke runs of the classification transfer: the ImageNet layout of the synthetic image folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
# (class k shows shapes of kind k), root from SYNTH_IMAGENET_ROOT, at the tiny encoder's 192x192
# (resize 219 and centre crop 192 for testing, the 256/224 ratio of the recipe), in this process.
_base_ = './imagenet_cls.py'
data_root = '{{$SYNTH_IMAGENET_ROOT:data/synthetic_imagenet}}'
num_classes = 3
train_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='RandomResizedCrop', size=192, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackProbeInputs')]
test_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='ResizeShortEdge', size=219, interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=192),
    dict(type='PackProbeInputs')]
_loader = dict(batch_size=16, num_workers=0, persistent_workers=False, pin_memory=False)
train_dataloader = dict(**_loader, dataset=dict(data_root=data_root, pipeline=train_pipeline))
test_dataloader = dict(**_loader, dataset=dict(data_root=data_root, pipeline=test_pipeline))
