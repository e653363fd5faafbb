# I-JEPA's 1% ImageNet-1k fine-tuning schedule (SPEC section 4e; I-JEPA paper Appendix A.2, MAE's
# fine-tuning code adapted): 50 epochs of AdamW, layer decay 0.75, batch 512, lr 3e-5 and weight
# decay 0.05 (ViT-B takes ViT-L/16's values: the paper gives no ViT-B recipe; the ViT-H/14 config
# sets 0.4). The lr is the paper's as stated, not rescaled by batch / 256 (the paper does not say it
# is). Warm-up as MAE's code has it by default (5 epochs from 0), then a half cosine to 1e-6 (MAE's
# default min_lr), per iteration, each group's lr and minimum scaled by its layer's lr scale;
# finetune_adamw_100e.py's optimizer, precision and checkpoints otherwise.
#
# Batch 512 = 8 GPUs x 32 x accumulative_counts 2: bash tools/dist_train.sh CONFIG 8. On N GPUs
# keep 32 per GPU and set accumulative_counts = 512 / (32 N) (--auto-scale-lr does not see it).
_base_ = './finetune_adamw_100e.py'

max_epochs = 50
batch_size = 512
base_lr = 3e-5  # the lr itself: not rescaled by batch
lr = base_lr

train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(accumulative_counts=2, paramwise_cfg=dict(decay_rate=0.75),
                     optimizer=dict(lr=lr, weight_decay=0.05))
param_scheduler = [_base_.param_scheduler[0],
                   dict(_base_.param_scheduler[1], eta_min_ratio=_base_.min_lr / lr)]
