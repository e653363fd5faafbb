# CPU smoke run of the kNN evaluation: the ImageNet kNN protocol (k = 20, temperature 0.07) on the
# suite's tiny encoder (6 blocks, 96 wide, 3 heads, patch 16; random init unless
# init_cfg.checkpoint is given) at 192x192, with the val split of the synthetic ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet --num-train 60 --num-val 30
# against a bank of its train split, in this process.
_base_ = ['../_base_/models/knn_vitb.py', '../_base_/datasets/synthimagenet_cls_192.py']
model = dict(
    num_classes=_base_.num_classes,
    backbone=dict(embed_dim=96, depth=6, num_heads=3, img_size=192,
                  init_cfg=dict(checkpoint=None)))
train_dataloader = None  # nothing trains; the bank is the training split
report = dict(task='synthetic ImageNet kNN', protocol='top-1 concat4',
              selection='no training, k and T fixed')
env_cfg = dict(dist_cfg=dict(backend='gloo'))
