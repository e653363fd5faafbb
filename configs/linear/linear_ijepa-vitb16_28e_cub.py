# CUB-200-2011 (official split): linear probe on the frozen I-JEPA ViT-B/16 target encoder, the
# recipe of SPEC section 4b (_base_/schedules/linear_sgd_28e.py: 28 epochs of SGD over augmented
# images re-encoded every step, 8 GPUs x 32) with its two heads
# (_base_/models/linear_probe_vitb_bn.py: BatchNorm + linear on concat4, the reported one, and avg).
#   bash tools/dist_train.sh configs/linear/linear_ijepa-vitb16_28e_cub.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   python tools/test.py configs/linear/linear_ijepa-vitb16_28e_cub.py \
#       work_dirs/linear_ijepa-vitb16_28e_cub/epoch_28.pth
_base_ = ['../_base_/models/linear_probe_vitb_bn.py', '../_base_/datasets/cub_cls.py',
          '../_base_/schedules/linear_sgd_28e.py']
model = dict(num_classes=_base_.num_classes)
report = dict(task='CUB-200-2011 linear', protocol='top-1 concat4')
