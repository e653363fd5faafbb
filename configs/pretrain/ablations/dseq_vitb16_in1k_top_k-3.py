# DSeq-JEPA ablation `top_k-3`, Table 5 (prediction order): the sequence cut to the top 3 regions
# ("top-3 only"): dseq_vitb16_in1k.py with one switch (the rows and their published numbers:
# suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(top_k=3)
