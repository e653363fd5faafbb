# DSeq-JEPA ablation `order-inverse`, Table 5 (prediction order): the regions predicted least
# salient first: dseq_vitb16_in1k.py with one switch (the rows and their published numbers:
# suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(order='inverse')
