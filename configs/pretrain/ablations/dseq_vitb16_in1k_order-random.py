# DSeq-JEPA ablation `order-random`, Table 5 (prediction order): the regions predicted in a random
# order: dseq_vitb16_in1k.py with one switch (the rows and their published numbers:
# suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(order='random')
