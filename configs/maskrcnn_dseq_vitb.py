# Mask R-CNN, ViT-B/16 pretrained with DSeq-JEPA (target encoder, with its CLS token), COCO 2017,
# the paper recipe (SPEC section 4). Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    './_base_/models/maskrcnn_vitb_simplefpn.py',
    './_base_/datasets/coco_instance_1024.py',
    './_base_/schedules/maskrcnn_adamw_25e.py',
]
# the pretraining behind the weights, read by tools/leaderboard.py (random: none)
pretrain_method = 'dseq'
model = dict(
    backbone=dict(
        use_cls_token=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/dseq_vitb16_in1k.pth',
                      encoder='target')))
