# Mask R-CNN with the ViTDet backbone layout: global attention in blocks 2/5/8/11, window 14
# elsewhere, the last block's map alone feeding the simple pyramid; batches padded to 1024x1024 for
# LSJ. (mmdet's ViTDet also puts LayerNorm in the RPN and box heads; the standard heads are kept
# here.)
_base_ = './maskrcnn_vitb_simplefpn.py'

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=(1024, 1024), pad_mask=True)]),
    backbone=dict(out_indices=(11, 11, 11, 11), global_blocks=(2, 5, 8, 11)))
