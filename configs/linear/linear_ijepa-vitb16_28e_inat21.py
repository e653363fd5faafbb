# iNaturalist 2021 (trained on train_mini, tested on val): linear probe on the frozen I-JEPA
# ViT-B/16 target encoder, the recipe of SPEC section 4b (_base_/schedules/linear_sgd_28e.py: 28
# epochs of SGD over augmented images re-encoded every step, 8 GPUs x 32) with its two heads
# (_base_/models/linear_probe_vitb_bn.py: BatchNorm + linear on concat4, the reported one, and avg).
#   bash tools/dist_train.sh configs/linear/linear_ijepa-vitb16_28e_inat21.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   python tools/test.py configs/linear/linear_ijepa-vitb16_28e_inat21.py \
#       work_dirs/linear_ijepa-vitb16_28e_inat21/epoch_28.pth
_base_ = ['../_base_/models/linear_probe_vitb_bn.py', '../_base_/datasets/inat21_cls.py',
          '../_base_/schedules/linear_sgd_28e.py']
model = dict(num_classes=_base_.num_classes)
report = dict(task='iNat21 linear', protocol='top-1 concat4')
