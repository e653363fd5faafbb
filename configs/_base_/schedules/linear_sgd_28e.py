# The linear-probe recipe of SPEC section 4b (the DSeq-JEPA authors' evaluation): SGD with Nesterov
# momentum 0.9, weight decay 5e-4, lr 0.01 x (global batch / 256), divided by 10 at epochs 8, 16 and
# 24, 28 epochs. Every step encodes its augmented batch anew (a random crop differs every epoch, so
# nothing can be cached): mmengine's plain loops over images, the encoder frozen and run without
# gradients, the heads alone in the optimizer (one param group each). No validation and no
# checkpoint selection: the reported split is the test split, so tools/test.py tests the last
# checkpoint (epoch_28.pth), and a checkpoint every epoch lets a killed run resume.
#
# Global batch 256 = 32 per GPU (the dataset configs) x 8 GPUs: bash tools/dist_train.sh CONFIG 8.
# On N GPUs keep 32 per GPU and pass --auto-scale-lr (tools/train.py then sets
# auto_scale_lr.enable: lr = 0.01 x 32N / 256, the recipe's rule), or keep the recipe's batch with
# --cfg-options train_dataloader.batch_size=<256 / N>.
_base_ = '../default_runtime.py'
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'])

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=28)
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper', constructor='ProbeHeadsOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4))
auto_scale_lr = dict(enable=False, base_batch_size=256)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[8, 16, 24], gamma=0.1)]

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
# mmengine's plain loops know no num_classes: the hook checks the datasets against model.num_classes
custom_hooks = [dict(type='NumClassesCheckHook')]
randomness = dict(seed=0)
