# CLEVR Dist (closest object's depth bin, 6 classes): linear probe on the frozen I-JEPA ViT-B/16 target encoder, VTAB-1k splits.
# I-JEPA has no CLS token: the readout is the average of the last block's patch tokens (add
# 'concat4' with --cfg-options "model.readouts=['avg','concat4']").
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    './_base_/models/linear_probe_vitb.py',
    './_base_/datasets/clevr_vtab1k.py',
    './_base_/schedules/probe_adamw_100e.py',
]
# the pretraining behind the weights, read by tools/leaderboard.py (random: none)
pretrain_method = 'ijepa'
task = 'dist'
model = dict(num_classes=6)
train_dataloader = dict(dataset=dict(task=task))
val_dataloader = dict(dataset=dict(task=task))
test_dataloader = dict(dataset=dict(task=task))
val_evaluator = dict(prefix='clevr_dist')
test_evaluator = val_evaluator
