# ImageNet-1k kNN (SPEC section 4b) on the frozen I-JEPA ViT-B/16 target encoder: the 50,000 val
# images against a bank of all 1,281,167 training images (test pipeline: resize 256, centre crop
# 224), readouts concat4 (reported) and avg. The authors' bank of 10% of train:
# knn_ijepa-vitb16_bank10_in1k.py. The full bank's features take about 20 GB per process.
#   bash tools/dist_test.sh configs/knn/knn_ijepa-vitb16_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/knn_vitb.py', '../_base_/datasets/imagenet_cls.py']
model = dict(num_classes=_base_.num_classes)
train_dataloader = None  # nothing trains; the bank is the training split
report = dict(task='ImageNet-1k kNN', protocol='top-1 concat4',
              selection='no training, k and T fixed')
