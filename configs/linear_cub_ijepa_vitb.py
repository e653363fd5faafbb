# CUB-200-2011 (official split): linear probe on the frozen I-JEPA ViT-B/16 target encoder, the
# recipe of SPEC section 4b (_base_/schedules/linear_sgd_28e.py: 28 epochs of SGD over augmented
# images re-encoded every step, 8 GPUs x 32). Two heads side by side, each a BatchNorm with affine
# parameters and a linear layer: concat4 (the averaged patch tokens of the last 4 blocks, each after
# the final LayerNorm, concatenated; the reported one) and avg (the last block's).
#   bash tools/dist_train.sh configs/linear_cub_ijepa_vitb.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   python tools/test.py configs/linear_cub_ijepa_vitb.py \
#       work_dirs/linear_cub_ijepa_vitb/epoch_28.pth
_base_ = [
    './_base_/models/linear_probe_vitb.py',
    './_base_/datasets/cub_cls.py',
    './_base_/schedules/linear_sgd_28e.py',
]
model = dict(num_classes=_base_.num_classes, readouts=('concat4', 'avg'), head_norm='batchnorm')
report = dict(task='CUB-200-2011 linear', protocol='top-1 concat4')
