# NYU-Depth v2 linear probe ("lin. 1"), ViT-B/16 pretrained with I-JEPA (target encoder, no CLS
# token), frozen: DINOv2's linear depth head of SPEC section 4h on the last block's patch tokens
# without the final norm (no CLS beside them, like-for-like for an encoder without one), 256 bins on
# [0.001, 10] m, scale-invariant log loss + 0.5 gradient loss; 38,400 iterations of 416x544 crops,
# AdamW lr 5e-3 wd 0.01, 12,800 warm-up iterations then cosine, batch 16 = 8 GPUs x 2, gradient
# clipping 35; test on the whole 480x640 images with flip averaging, Eigen crop, the last iteration.
# Every other depthlinear config builds on this one.
# Weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/depth_linear_vitb.py',
    '../_base_/datasets/nyu_depth.py',
    '../_base_/schedules/depth_linear_adamw_38k.py',
]
# What the leaderboard reads (suite/results.py): RMSE and abs rel in metres and fractions, lower
# is better; delta1 in percent. input_size: the encoder's input of one test image (H, W).
report = dict(task='NYU-Depth v2 linear',
              metrics={'nyu/rmse': ('RMSE', 1), 'nyu/abs_rel': ('abs rel', 1),
                       'nyu/d1': ('delta1', 100)},
              lower_is_better=('RMSE', 'abs rel'), decimals={'RMSE': 3, 'abs rel': 3},
              protocol=None, selection='last iteration, no selection', input_size=(480, 640))
