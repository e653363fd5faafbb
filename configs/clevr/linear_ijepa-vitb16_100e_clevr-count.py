# CLEVR Count (objects - 3, 8 classes): linear probe on the frozen I-JEPA ViT-B/16 target encoder,
# VTAB-1k splits. I-JEPA has no CLS token: the readout is the average of the last block's patch
# tokens (add 'concat4' with --cfg-options "model.readouts=['avg','concat4']").
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/linear_probe_vitb.py',
    '../_base_/datasets/clevr_vtab1k.py',
    '../_base_/schedules/probe_adamw_100e.py',
]
task = 'count'
