# MAE's fine-tuning schedule for ViT-B (SPEC section 4d; mae FINETUNE.md, main_finetune.py,
# util/lr_sched.py, util/lr_decay.py): 100 epochs of AdamW (betas 0.9, 0.999; weight decay 0.05,
# none on 1-D parameters, the position table and the CLS token), lr = base lr 5e-4 x 1024 / 256,
# layer-wise lr decay 0.65 over the 12 blocks (backbones/layer_decay.py: scale 0.65^(13 - id), id 0
# for the embeddings, i + 1 for block i, 13 for the rest), no gradient clipping. The lr rises
# linearly from 0 over 5 epochs, then falls by a half cosine to 1e-6, every iteration; each group's
# lr and minimum are its layer's scale times these, as MAE's lr_sched scales them
# (CosineAnnealingLR's eta_min_ratio). mmengine's LinearLR cannot start from exactly 0 (it divides
# by its start factor): it starts from 1e-9 x lr and reaches lr one iteration before the cosine
# begins, where MAE's reaches it as the cosine begins.
#
# Effective batch 1024 = 8 GPUs x 32 (the dataset config) x accumulative_counts 4:
#   bash tools/dist_train.sh CONFIG 8
# On N GPUs keep 32 per GPU and set accumulative_counts = 1024 / (32 N), e.g. 16 GPUs:
#   --cfg-options optim_wrapper.accumulative_counts=2
# (--auto-scale-lr would not see the accumulation: it rescales by GPUs x batch per GPU alone.)
#
# Precision: bf16 autocast, where MAE ran fp16 with a loss scaler. SPEC section 6 prefers bf16,
# which needs no loss scaling: the scale is fixed at 1 (mmengine's AmpOptimWrapper keeps its
# GradScaler object, which then only skips a step with non-finite gradients).
#
# No validation and no selection: the reported split is ImageNet's val, so tools/train.py --test
# (and tools/test.py on the last epoch_<N>.pth) tests the last checkpoint. A checkpoint every epoch,
# the last 3 kept, so that a killed run resumes (--resume).
_base_ = '../default_runtime.py'
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'])

max_epochs = 100
warmup_epochs = 5
base_lr = 5e-4
batch_size = 1024  # effective: GPUs x batch per GPU x accumulative_counts
lr = base_lr * batch_size / 256
min_lr = 1e-6

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='AmpOptimWrapper', dtype='bfloat16', loss_scale=1.0, accumulative_counts=4,
    constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, decay_rate=0.65),
    optimizer=dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.05))
# the cosine runs to the end of training (the runner sets its `end` to train_cfg.max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=min_lr / lr, by_epoch=True, begin=warmup_epochs,
         convert_to_iter_based=True)]

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
# mmengine's plain loops know no num_classes: the hook checks the datasets against model.num_classes
custom_hooks = [dict(type='NumClassesCheckHook')]
randomness = dict(seed=0)
