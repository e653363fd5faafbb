# DSeq-JEPA ablation `prediction-flat`, Table 4 (region source x prediction): the saliency-ranked
# regions predicted all at once (flat), not one after another: dseq_vitb16_in1k.py with one switch
# (the rows and their published numbers: suite/ablations.py).
_base_ = '../dseq_vitb16_in1k.py'
model = dict(prediction='flat')
