# CLEVR Count: linear probe on the frozen DSeq-JEPA ViT-B/16 target encoder,
# linear_ijepa-vitb16_100e_clevr-count.py with DSeq-JEPA's encoder. Readouts side by side: the last
# block's CLS token (the paper's) and the average of its patch tokens (like for like with I-JEPA).
_base_ = './linear_ijepa-vitb16_100e_clevr-count.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method], readouts=('cls', 'avg'))
report = dict(protocol='top-1 cls')
