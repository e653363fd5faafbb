# ADE20K (SceneParsing, 150 classes, id 0 ignored), 512x512 crops of images rescaled to short side
# 512 within a 0.5-2.0 range, flip and photometric distortion; single-scale evaluation at short side
# 512, mIoU (SPEC section 4). The root comes from the ADE_ROOT environment variable, default
# data/ade/ADEChallengeData2016.
dataset_type = 'ADE20KSegDataset'
data_root = '{{$ADE_ROOT:data/ade/ADEChallengeData2016}}' + '/'
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='LoadSegAnnotationsChecked', reduce_zero_label=True, max_label=150),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    # after Resize: the metric compares with the label map at the original size
    dict(type='LoadSegAnnotationsChecked', reduce_zero_label=True, max_label=150),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline,
                 data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation')))
test_dataloader = val_dataloader

# mmseg's IoUMetric, recording per image (transfer/ade.py)
val_evaluator = dict(type='IoUMetricWithRecords', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
# What the leaderboard reads (suite/results.py): task, logged key -> (row label, factor), the
# method's protocol readout.
# input_size: the encoder's input (H, W) its compute column counts (suite/compute.py), one window
# of the sliding inference.
report = dict(task='ADE20K', metrics={'mIoU': ('mIoU', 1)}, protocol=None,
              selection='last iteration, no selection', input_size=crop_size)
