# UperNet, ViT-B/16 pretrained with DSeq-JEPA (target encoder, with its CLS token), ADE20K 160k
# iterations at 512x512, the paper recipe (SPEC section 4). Weights:
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    './_base_/models/upernet_vitb.py',
    './_base_/datasets/ade20k_512.py',
    './_base_/schedules/upernet_adamw_160k.py',
]
# the pretraining behind the weights, read by tools/leaderboard.py (random: none)
pretrain_method = 'dseq'
model = dict(
    backbone=dict(
        use_cls_token=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/dseq_vitb16_in1k.pth',
                      encoder='target')))
