# UperNet on the suite's ViT-B/16 for ADE20K (SPEC section 4): features of blocks 3/5/7/11, global
# attention in every block, drop path 0.1, CLS dropped from the maps, a 4x/2x/1x/0.5x rescale neck,
# PPM scales (1, 2, 3, 6) with 512 channels, an auxiliary FCN head on block 7 (weight 0.4), and
# sliding-window inference of 512 crops with stride 341; I-JEPA's weights unless the config picks
# others (../pretrained/vitb16_in1k.py).
# SyncBN is what 8 GPUs need; on one GPU or the CPU mmengine's Runner reverts it to BatchNorm itself
# (Runner.wrap_model without a launcher), so the config stays the same everywhere.
_base_ = '../pretrained/vitb16_in1k.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(512, 512),
    pad_val=0,
    seg_pad_val=255,
    # Test images are padded to a multiple of the patch size (the padding is cut from the
    # prediction), so a side shorter than the crop still gives whole patches.
    test_cfg=dict(size_divisor=16))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    # img_size: the pretraining resolution, so that the stored position table keeps the
    # pretraining grid and every input grid (512 crops, wider whole images) is resampled from it
    # once, as the reference code does (SPEC section 4)
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, out_indices=(3, 5, 7, 11),
                  window_size=0, drop_path_rate=0.1, with_cp=True,
                  **_base_.pretrained[_base_.pretrain_method]),
    neck=dict(type='Feature2Pyramid', embed_dim=768, rescales=[4, 2, 1, 0.5], norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=768,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
