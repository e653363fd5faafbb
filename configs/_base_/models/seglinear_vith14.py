# The frozen ADE20K linear probe on ViT-H/14: seglinear_vitb.py on the 32-block, 1280-wide encoder,
# the last block (31) after the final norm, frozen whole.
# Patch 14 (SPEC section 4h asks for the input padded to a multiple of 14): the training crops stay
# 512x512 (../datasets/ade20k_512.py) and the data preprocessor pads each to 518 = 37 x 14 at the
# bottom and right, the image with 0 and the label with 255, which the loss ignores. Test images
# (short side 512) are padded at the bottom and right to a multiple of 14, and the windows are
# 518x518 at the recipe's stride of 341: mmseg's slide inference takes windows of the crop size,
# or of the padded image's side where it is shorter, so every window is whole patches; mmseg cuts
# the padding from the prediction. DINOv2 pads each side by half instead (inside the encoder);
# here the label stays aligned with the image pixel for pixel, and 6 rows and columns of real
# image fill what DINOv2's windows fill with padding.
_base_ = ['./seglinear_vitb.py', '../pretrained/vith14_in1k.py']

pretrained = _base_.pretrained_vith14
window = (518, 518)
data_preprocessor = dict(size=window, test_cfg=dict(size_divisor=14))
model = dict(
    data_preprocessor=data_preprocessor,
    # img_size 224, the pretraining grid (16x16), as seglinear_vitb.py keeps ViT-B's
    backbone=dict(**_base_.vith14, out_indices=(31,), frozen_stages=32,
                  **pretrained[_base_.pretrain_method]),
    decode_head=dict(in_channels=1280),  # ViT-H's width
    test_cfg=dict(crop_size=window))
