# DSeq-JEPA ablation `order-spatial`, Table 5 (prediction order): the regions predicted in spatial
# order: dseq_vitb16_in1k.py with one switch (the rows and their published numbers:
# suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(order='spatial')
