# The attentive-probe recipe of V-JEPA 1 (SPEC section 4f) over augmented images encoded anew at
# every step, as ImageNet-1k needs (its 1.28M x 196 x 768 tokens cannot be cached): 20 epochs,
# AdamW lr 1e-3 at batch 1024 (8 GPUs x 128), cosine to 0 per iteration without warm-up, weight
# decay 1e-3 cosine to 1e-6 (to 1e-3 x each head's own), none on biases and 1-D parameters, the
# gradient clipped at norm 1.0 (each head's on its own, so a grid's heads stay independent).
# Training images: timm's transform with AutoAugment 'original', bicubic RandomResizedCrop 224,
# flip and random erasing 0.25 (PackTimmInputs); testing: resize 256, centre crop 224.
#
# Beyond V-JEPA 1's one head, a grid of heads (lr 0.5x to 2x x weight decay 1e-4 to 1e-2, the
# recipe's at its centre) trains side by side, each head in its own param groups; the reported head
# of each readout is chosen on a class-balanced held-out slice of the training set, never on the
# reported split: HeldOutSelectionTestLoop scores every head on that slice (encoded through the test
# pipeline, at test time) before it tests the chosen ones. A leaf trains on the rest of the slice:
#   train_dataloader = dict(batch_size=128, dataset=dict(
#       _delete_=True, type='ClassBalancedSubset', part='rest', fraction=..., seed=0,
#       dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.attentive_train_pipeline)))
#   model = dict(num_classes=..., head_grid=_base_.attentive_grid)
_base_ = '../default_runtime.py'
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'])

attentive_grid = dict(lr_scales=(0.5, 1.0, 2.0), weight_decays=(1e-4, 1e-3, 1e-2))
attentive_train_pipeline = [
    dict(type='LoadRGBImage'),
    dict(type='PackTimmInputs', input_size=224, is_training=True, auto_augment='original',
         interpolation='bicubic', re_prob=0.25, re_mode='pixel', re_count=1)]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
test_cfg = dict(type='HeldOutSelectionTestLoop', select_on_heldout=True)

optim_wrapper = dict(
    type='HeadwiseClipOptimWrapper', constructor='AttentiveHeadsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-3),
    clip_grad=dict(max_norm=1.0))
# on N GPUs: --auto-scale-lr (lr 1e-3 x batch / 1024)
auto_scale_lr = dict(enable=False, base_batch_size=1024)
# both end with the run (the runner sets their `end` to train_cfg.max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=1e-3,
         by_epoch=True, begin=0, convert_to_iter_based=True)]

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
custom_hooks = [dict(type='NumClassesCheckHook')]
randomness = dict(seed=0)
