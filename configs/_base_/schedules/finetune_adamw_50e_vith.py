# MAE's fine-tuning schedule for ViT-H/14 (SPEC section 4d; mae FINETUNE.md): finetune_adamw_100e.py
# with 50 epochs, base lr 1e-3 (lr = 1e-3 x 1024 / 256) and layer decay 0.75 over the 32 blocks;
# the same effective batch 1024 (MAE: 16 x 64 GPUs; here 8 GPUs x 32 x accumulative_counts 4, the
# per-GPU batch fitting 80 GB in bf16), weight decay 0.05, 5 warm-up epochs, cosine to 1e-6.
_base_ = './finetune_adamw_100e.py'

max_epochs = 50
base_lr = 1e-3
lr = base_lr * _base_.batch_size / 256

train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32, decay_rate=0.75), optimizer=dict(lr=lr))
param_scheduler = [_base_.param_scheduler[0],
                   dict(_base_.param_scheduler[1], eta_min_ratio=_base_.min_lr / lr)]
