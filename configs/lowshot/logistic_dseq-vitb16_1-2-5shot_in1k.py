# ImageNet-1k few-shot logistic regression on the frozen DSeq-JEPA ViT-B/16 target encoder:
# logistic_ijepa-vitb16_1-2-5shot_in1k.py with DSeq-JEPA's encoder and its CLS token (without the
# final norm) as a second readout, the one reported (MSN reads the CLS token so; the avg rows
# compare like for like with I-JEPA).
_base_ = './logistic_ijepa-vitb16_1-2-5shot_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('avg', 'cls'))
report = dict(protocol='top-1 5-shot cls')
