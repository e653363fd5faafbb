# The tiny counterpart of configs/pretrain/ablations/dseq_vitb16_in1k_num_regions-7.py (the
# `tiny_ablations` suite preset): the suite's tiny DSeq-JEPA pretraining with the same switch.
_base_ = '../dseq_vittiny_synthclevr.py'
model = dict(num_regions=7)
