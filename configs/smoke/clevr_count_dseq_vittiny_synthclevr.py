# Alias of configs/clevr/linear_dseq-vittiny_100e_synthclevr-count.py, kept at this old path.
_base_ = '../clevr/linear_dseq-vittiny_100e_synthclevr-count.py'
