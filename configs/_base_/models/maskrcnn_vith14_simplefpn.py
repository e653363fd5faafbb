# Mask R-CNN on ViT-H/14 with the simple feature pyramid: maskrcnn_vitb_simplefpn.py (window 14,
# drop path 0.1, gradient checkpointing, CLS dropped from the maps) on the 32-block, 1280-wide
# encoder, features from blocks 7/15/23/31 with global attention there, as the DSeq-JEPA authors'
# ViT-H config keeps the ViT-B recipe (SPEC section 4, "ViT-H/14 for COCO and ADE20K").
#
# Patch 14 against a 1024 long side (SPEC section 4): the pretrained patch is kept and every batch
# is padded to a multiple of 28 = 2 x 14, so the token grid is even (1024 -> 1036 = 74 x 14) and
# the 0.5x level halves it exactly. The pyramid's levels then have strides 3.5, 7, 14, 28 and 56
# (the extra max-pooled level): ViT-B's 4..64 times 14/16. The RPN's anchors and the RoI
# extractors take those strides; the anchors keep ViT-B's sizes in pixels (base sizes 4..64 times
# scale 8: 32 to 512 pixels), centred at i x stride on each level (mmdet's center_offset 0).
_base_ = ['./maskrcnn_vitb_simplefpn.py', '../pretrained/vith14_in1k.py']

pretrained = _base_.pretrained_vith14
model = dict(
    data_preprocessor=dict(pad_size_divisor=28),
    backbone=dict(**_base_.vith14, out_indices=(7, 15, 23, 31),
                  **pretrained[_base_.pretrain_method]),
    neck=dict(in_channels=[1280] * 4),  # ViT-H's width
    rpn_head=dict(anchor_generator=dict(
        strides=[s * 14 / 16 for s in _base_.model.rpn_head.anchor_generator.strides],
        base_sizes=_base_.model.rpn_head.anchor_generator.strides)),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[
            s * 14 / 16 for s in _base_.model.roi_head.bbox_roi_extractor.featmap_strides]),
        mask_roi_extractor=dict(featmap_strides=[
            s * 14 / 16 for s in _base_.model.roi_head.mask_roi_extractor.featmap_strides])))
