# UperNet, ViT-H/14 pretrained with I-JEPA (target encoder, no CLS token), ADE20K: the paper recipe
# of upernet_ijepa-vitb16_160k_ade20k.py (160k iterations, AdamW lr 1e-4 wd 0.05, no layer decay,
# bf16, batch 16 = 8 GPUs x 2) on ViT-H/14 with 504x504 crops and 504/341 sliding windows
# (_base_/models/upernet_vith14.py, _base_/datasets/ade20k_504.py). Gradient checkpointing (with_cp,
# from the ViT-B base) and bf16 carry the 632M-parameter encoder at two crops per GPU.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_vith14.py',
    '../_base_/datasets/ade20k_504.py',
    '../_base_/schedules/upernet_adamw_160k.py',
]
# the layer-decay constructor's depth (its decay stays 1.0: none)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32))
