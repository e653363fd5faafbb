# DSeq-JEPA ablation `saliency-gradcam`, Table 7 (saliency source): label-free Grad-CAM instead of
# the CLS similarity: dseq_vitb16_in1k.py with one switch (the rows and their published numbers:
# suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(saliency='gradcam')
