# The ViTDet recipe (LSJ, ~100 epochs, layer decay 0.7, global blocks 2/5/8/11) on the DSeq-JEPA
# ViT-B/16: the same backbone and checkpoint as maskrcnn_dseq_vitb.py.
_base_ = [
    './_base_/models/maskrcnn_vitb_vitdet.py',
    './_base_/datasets/coco_instance_lsj_1024.py',
    './_base_/schedules/vitdet_adamw_lsj100e.py',
]
# the pretraining behind the weights, read by tools/leaderboard.py (random: none)
pretrain_method = 'dseq'
model = dict(
    backbone=dict(
        use_cls_token=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/dseq_vitb16_in1k.pth',
                      encoder='target')))
