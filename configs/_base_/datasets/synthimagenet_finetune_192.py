# CPU smoke runs of full fine-tuning: imagenet_finetune.py on the synthetic image folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet
# (3 classes), root from SYNTH_IMAGENET_ROOT, at the tiny encoder's 192x192 (testing: resize 219,
# centre crop 192, the 256/224 ratio of the recipe), in this process.
_base_ = './imagenet_finetune.py'
data_root = '{{$SYNTH_IMAGENET_ROOT:data/synthetic_imagenet}}'
num_classes = 3
train_pipeline = [_base_.train_pipeline[0],
                  dict(_base_.train_pipeline[1], input_size=192)]
test_pipeline = [_base_.test_pipeline[0],
                 dict(_base_.test_pipeline[1], input_size=192, crop_pct=192 / 219)]
_loader = dict(batch_size=32, num_workers=0, persistent_workers=False, pin_memory=False)
# root_env: a missing folder's error names the variable read here, not the real data's
dataset = dict(type='ImageNetDataset', data_root=data_root, root_env='SYNTH_IMAGENET_ROOT')
train_dataloader = dict(**_loader, dataset=dict(**dataset, pipeline=train_pipeline))
test_dataloader = dict(**_loader, dataset=dict(**dataset, pipeline=test_pipeline))
report = dict(input_size=(192, 192))
