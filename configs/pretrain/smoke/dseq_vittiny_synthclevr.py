# Alias of configs/pretrain/dseq_vittiny_synthclevr.py, kept at this old path.
_base_ = '../dseq_vittiny_synthclevr.py'
