# Stanford Cars (devkit split): linear probe on the frozen DSeq-JEPA ViT-B/16 target encoder,
# linear_ijepa-vitb16_28e_cars.py with DSeq-JEPA's encoder. The authors read the patch tokens
# (concat4, the reported head; avg) even for DSeq-JEPA; its CLS token is probed beside them.
_base_ = './linear_ijepa-vitb16_28e_cars.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('concat4', 'avg', 'cls'))
