# CUB-200-2011 kNN (SPEC section 4b) on the frozen I-JEPA ViT-B/16 target encoder: the 5,794 test
# images (200 classes) against a bank of the 5,994 training images (test pipeline: resize 256,
# centre crop 224); readouts concat4 (reported) and avg.
#   python tools/test.py configs/knn/knn_ijepa-vitb16_cub.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/knn_vitb.py', '../_base_/datasets/cub_cls.py']
model = dict(num_classes=_base_.num_classes)
train_dataloader = None  # nothing trains; the bank is the training split
report = dict(task='CUB-200-2011 kNN', protocol='top-1 concat4',
              selection='no training, k and T fixed')
