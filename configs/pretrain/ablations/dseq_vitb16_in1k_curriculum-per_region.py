# DSeq-JEPA ablation `curriculum-per_region`, the curriculum as the paper's Algorithm 1 writes it, a
# draw per region instead of one per step (no published number): dseq_vitb16_in1k.py with one switch
# (the rows and their published numbers: suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(curriculum='per_region')
