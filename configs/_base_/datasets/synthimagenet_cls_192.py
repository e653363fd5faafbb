# CPU smoke runs of the classification transfer: the ImageNet layout of the synthetic image
# folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
# (class k shows shapes of kind k), root from SYNTH_IMAGENET_ROOT, at the tiny encoder's 192x192
# (resize 219 and centre crop 192 for testing, the 256/224 ratio of the recipe), in this process.
_base_ = './imagenet_cls.py'
data_root = '{{$SYNTH_IMAGENET_ROOT:data/synthetic_imagenet}}'
num_classes = 3
train_pipeline = [_base_.train_pipeline[0], dict(_base_.train_pipeline[1], size=192),
                  *_base_.train_pipeline[2:]]
test_pipeline = [_base_.test_pipeline[0], dict(_base_.test_pipeline[1], size=219),
                 dict(_base_.test_pipeline[2], crop_size=192), *_base_.test_pipeline[3:]]
_loader = dict(batch_size=16, num_workers=0, persistent_workers=False, pin_memory=False)
# root_env: a missing folder's error names the variable read here, not the real data's
_dataset = dict(data_root=data_root, root_env='SYNTH_IMAGENET_ROOT')
train_dataloader = dict(**_loader, dataset=dict(**_dataset, pipeline=train_pipeline))
test_dataloader = dict(**_loader, dataset=dict(**_dataset, pipeline=test_pipeline))
report = dict(input_size=(192, 192))
