# What the classification transfer datasets share (SPEC section 4b): training with RandomResizedCrop
# 224 (default scale, bicubic) and horizontal flip, testing with resize 256 (bicubic) and centre
# crop 224; the probe normalises with ImageNet's mean and std. A dataset's config (imagenet_cls.py,
# ...) sets its type, root, splits and classes; a protocol's config names the task in report.task.
# The reported split is the dataset's test split: no config selects anything on it.
train_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackProbeInputs')]
test_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='ResizeShortEdge', size=256, interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackProbeInputs')]

_loader = dict(num_workers=8, persistent_workers=True, pin_memory=True,
               collate_fn=dict(type='default_collate'))
train_dataloader = dict(**_loader, batch_size=32, sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(**_loader, batch_size=64, sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(pipeline=test_pipeline))
test_evaluator = dict(type='ProbeAccuracy', prefix='accuracy')
# What the leaderboard reads (suite/results.py): top-1 of each readout a probe may have
report = dict(metrics={f'accuracy/top1_{r}': (f'top-1 {r}', 1) for r in ('concat4', 'avg', 'cls')},
              selection='last epoch, no selection',
              input_size=(224, 224))  # the test crop, as suite/compute.py counts the encoder
