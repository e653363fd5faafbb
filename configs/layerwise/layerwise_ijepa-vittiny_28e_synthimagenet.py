# CPU smoke run of the layer-wise probe (layerwise_ijepa-vitb16_28e_in1k.py: a BatchNorm + Linear
# head on every block's average-pooled patch tokens, features encoded once, the 28 epochs of the
# 4b recipe, last epoch tested, no selection) on the suite's tiny encoder (6 blocks, 96 wide) at 192
# pixels and the synthetic ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet --num-train 64 --num-val 24
# in one process. Unlike ViT-B/16's, its heads train on the whole training split (its features are
# small), at a feature batch of 32 with the recipe's lr 0.01 unscaled, as the linear smoke configs
# keep it: scaled by 32 / 256, the heads would hardly move on a few hundred images.
_base_ = '../linear/linear_ijepa-vittiny_7e_synthimagenet.py'
depth = 6
train_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
model = dict(readouts=[f'block{k}_avg' for k in range(1, depth + 1)])
train_cfg = dict(_delete_=True, type='FeatureCacheTrainLoop', max_epochs=28, batch_size=32,
                 feature_dtype='float16')
test_cfg = dict(type='FeatureCacheTestLoop', batch_size=1024, feature_dtype='float16')
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[8, 16, 24], gamma=0.1)]
# the last checkpoint alone: a save costs more than an epoch of these heads (28 took 20 of 43 s)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=28))
# the rows of the ViT-B/16 config, for 6 blocks, the last block first (as there, for baselines)
report = dict(
    task='synthetic ImageNet layer-wise',
    metrics=dict(_delete_=True, **{
        f'accuracy/top1_block{k}_{kind}': (f'top-1 block {k} {kind}', 1)
        for k in range(depth, 0, -1) for kind in ('avg', 'cls')}),
    protocol=f'top-1 block {depth} avg',
    selection='last epoch, no selection (one head per block at the recipe\'s lr)')
