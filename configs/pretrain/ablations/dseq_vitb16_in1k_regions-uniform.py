# DSeq-JEPA ablation `regions-uniform`, Table 4 (region source x prediction): uniform regions, not
# saliency-ranked ones, predicted sequentially: dseq_vitb16_in1k.py with one switch (the rows and
# their published numbers: suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(regions='uniform')
