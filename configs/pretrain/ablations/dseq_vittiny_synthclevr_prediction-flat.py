# The tiny counterpart of configs/pretrain/ablations/dseq_vitb16_in1k_prediction-flat.py (the
# `tiny_ablations` suite preset): the suite's tiny DSeq-JEPA pretraining with the same switch.
_base_ = '../dseq_vittiny_synthclevr.py'
model = dict(prediction='flat')
