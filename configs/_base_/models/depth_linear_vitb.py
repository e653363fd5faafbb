# The frozen NYU-Depth v2 linear probe on the suite's ViT-B/16 (SPEC section 4h, DINOv2's linear
# depth head, "lin. 1"): the pretrained encoder frozen whole (frozen_stages = depth), the last
# block's output without the final norm (as DINOv2's released heads read it), a 1x1 convolution of
# its patch tokens upsampled x4 to 256 depth bins uniform on [0.001, 10] m, the scale-invariant log
# loss (mean term only for its first 100 iterations) plus the gradient loss weighted 0.5. Test:
# the whole 480x640 image and its mirror, their depths averaged (mmseg's 'slide_flip' with one
# window as large as the image; its 'slide' mode falls through to 'whole' inference). I-JEPA's
# weights unless the config picks others (../pretrained/vitb16_in1k.py).
# No gradient checkpointing and no drop path: the frozen encoder runs without an autograd graph.
_base_ = '../pretrained/vitb16_in1k.py'

patch_size = 16
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    # depth padding is 0, outside the valid range (0.001, 10): the loss leaves it out
    seg_pad_val=0,
    # images (and depth maps) padded bottom/right to whole patches; at test time the padding is cut
    # from the prediction again (DepthEstimator.postprocess_result)
    size_divisor=patch_size,
    test_cfg=dict(size_divisor=patch_size))
model = dict(
    type='DepthEstimator',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=patch_size, out_indices=(11,),
                  window_size=0, frozen_stages=12, norm_last=False, drop_path_rate=0.0,
                  with_cp=False, **_base_.pretrained[_base_.pretrain_method]),
    decode_head=dict(
        type='LinearDepthHead',
        in_channels=[768],
        token=None,
        upsample=4,
        n_bins=256,
        min_depth=1e-3,
        max_depth=10.0,
        align_corners=False,
        loss_decode=[dict(type='ScaleInvariantLogLoss', variance_focus=0.15, warm_up_iters=100),
                     dict(type='LogDepthGradientLoss', loss_weight=0.5)]),
    train_cfg=dict(),
    # one window at least as large as the (padded) image: whole-image inference with flip averaging
    test_cfg=dict(mode='slide_flip', crop_size=(480, 640), stride=(480, 640)))
