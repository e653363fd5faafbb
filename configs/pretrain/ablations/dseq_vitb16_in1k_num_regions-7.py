# DSeq-JEPA ablation `num_regions-7`, the N ablation: N = 7 regions: dseq_vitb16_in1k.py with one
# switch (the rows and their published numbers: suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(num_regions=7)
