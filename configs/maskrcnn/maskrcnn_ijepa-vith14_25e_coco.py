# Mask R-CNN, ViT-H/14 pretrained with I-JEPA (target encoder, no CLS token), COCO 2017: the paper
# recipe of maskrcnn_ijepa-vitb16_25e_coco.py (25 epochs, AdamW lr 1e-4, no layer decay, bf16,
# batch 16 = 8 GPUs x 2) on ViT-H/14 (_base_/models/maskrcnn_vith14_simplefpn.py: blocks
# 7/15/23/31, patch 14 on batches padded to a multiple of 28). Memory: gradient checkpointing
# (with_cp, from the ViT-B base) and bf16 keep two images per GPU of the 632M-parameter encoder
# well within 80 GB (an estimate, not a measurement: about 11 GB of weights, gradients and AdamW
# state, under 2 GB of stored block inputs); on 16 GPUs, train_dataloader.batch_size=1.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/maskrcnn_vith14_simplefpn.py',
    '../_base_/datasets/coco_instance_1024.py',
    '../_base_/schedules/maskrcnn_adamw_25e.py',
]
# the layer-decay constructor's depth (its decay stays 1.0: none)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32))
# the encoder's largest input: the 1024 long side padded to 1036 = 74 x 14
report = dict(input_size=(1036, 1036))
