# NYU-Depth v2 (SPEC section 4h: the DINOv2 linear depth recipe's data), in the layout the DINOv2
# and DINOv3 depth code reads: nyu_train.txt and nyu_test.txt (the 654 Eigen test images) under the
# root, depth PNGs in uint16 millimetres read as metres (0 = invalid). Training: NYU's border crop
# (427x565 left), rotation up to 2.5 degrees on half the images (the depth map padded with 0,
# invalid, and rotated by nearest neighbour), flip, 416x544 random crops, colour augmentation.
# Evaluation on the 480x640 frames as they are (flip averaging is the model's test_cfg): RMSE,
# abs rel, delta1 and the rest of mmseg's depth metrics, over depth in (0.001, 10) m inside the
# Eigen crop, each a mean over images. The root comes from the NYU_ROOT environment variable,
# default data/nyu.
# The classes (transfer/nyu.py) come from the recipe's custom_imports ('transfer.nyu'): mmengine
# refuses a key, custom_imports among them, that two bases of one config both set.
dataset_type = 'NYUDepthDataset'
data_root = '{{$NYU_ROOT:data/nyu}}' + '/'
crop_size = (416, 544)

train_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='LoadDepthAnnotationChecked', depth_rescale_factor=1e-3),
    dict(type='NYUCrop'),
    dict(type='RandomRotate', prob=0.5, degree=2.5, seg_pad_val=0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='LoadDepthAnnotationChecked', depth_rescale_factor=1e-3),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split_file='nyu_train.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split_file='nyu_test.txt',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# mmseg's depth metric image by image, recording per image (transfer/nyu.py); logged keys
# nyu/rmse, nyu/abs_rel, nyu/d1, ...
val_evaluator = dict(type='DepthMetricWithRecords', prefix='nyu')
test_evaluator = val_evaluator
