# iNaturalist 2021 (trained on train_mini, tested on val): linear probe on the frozen DSeq-JEPA
# ViT-B/16 target encoder, linear_inat21_ijepa_vitb.py with DSeq-JEPA's encoder. The authors read
# the patch tokens (concat4, the reported head; avg) even for DSeq-JEPA; its CLS token is probed
# beside them.
_base_ = './linear_inat21_ijepa_vitb.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
