# I-JEPA's own full fine-tuning schedule, for ViT-H (SPEC section 4d; I-JEPA paper, arXiv
# 2301.08243v3, Appendix D, which gives it for ViT-H/16 at 448 only): 50 epochs of AdamW, cosine,
# base lr 1e-4, batch 528, weight decay 0.04, layer decay 0.75 (here over ViT-H/14's 32 blocks).
# The paper does not say whether 1e-4 is scaled by batch / 256, MAE's rule (which would give
# 2.06e-4): it is used as stated, not scaled, as the 1% schedule's 3e-5 is
# (finetune_lowshot_adamw_50e.py). Nor does it state the warm-up or the minimum lr: MAE's code
# defaults, which I-JEPA's fine-tuning adapts, are kept, 5 warm-up epochs from 0 then a half cosine
# to 1e-6, per iteration, each group's lr and minimum scaled by its layer's lr scale.
# finetune_adamw_100e.py's optimizer, precision and checkpoints otherwise.
#
# Batch 528 = 8 GPUs x 22 (the config's train_dataloader.batch_size) x accumulative_counts 3:
#   bash tools/dist_train.sh CONFIG 8
# timm's batch Mixup needs an even batch on each GPU, so 8 x 33 x 2 will not do. On N GPUs keep 22
# per GPU and set accumulative_counts = 528 / (22 N) = 24 / N, for N in 1, 2, 3, 4, 6, 8, 12, 24,
# e.g. 4 GPUs: --cfg-options optim_wrapper.accumulative_counts=6 (16 GPUs cannot make 528 of even
# per-GPU batches). --auto-scale-lr would not see the accumulation.
_base_ = './finetune_adamw_100e.py'

max_epochs = 50
base_lr = 1e-4
batch_size = 528  # effective: GPUs x batch per GPU x accumulative_counts
lr = base_lr  # as the paper states it: not scaled by batch / 256

train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(accumulative_counts=3, paramwise_cfg=dict(num_layers=32, decay_rate=0.75),
                     optimizer=dict(lr=lr, weight_decay=0.04))
param_scheduler = [_base_.param_scheduler[0],
                   dict(_base_.param_scheduler[1], eta_min_ratio=_base_.min_lr / lr)]
