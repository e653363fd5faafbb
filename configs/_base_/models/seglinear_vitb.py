# The frozen ADE20K linear probe on the suite's ViT-B/16 (SPEC section 4h, DINOv2's linear head):
# the pretrained encoder frozen whole (frozen_stages = depth: every block and the final norm), the
# last block's patch tokens after the final LayerNorm (the CLS token, DSeq-JEPA's, is dropped from
# the maps), batch norm over their 768 channels and a 1x1 convolution to the 150 classes, the
# logits upsampled bilinearly to the input; sliding-window inference of 512 crops with stride 341.
# The data preprocessor (and its test-time padding to whole patches) and the weights table are
# upernet_vitb.py's; the rest of that model is replaced.
# No gradient checkpointing and no drop path: the frozen encoder runs without an autograd graph (no
# parameter of it needs a gradient, nor does its input), so it holds no activations for a backward.
_base_ = './upernet_vitb.py'

model = dict(
    _delete_=True,
    type='EncoderDecoder',
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(_base_.model.backbone, out_indices=(11,), norm_last=True, frozen_stages=12,
                  drop_path_rate=0.0, with_cp=False),
    decode_head=dict(
        type='LinearSegHead',
        in_channels=768,
        in_index=0,
        num_classes=150,
        norm_cfg=_base_.norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
