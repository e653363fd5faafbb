# Alias of configs/linear/linear_dseq-vittiny_fast_synthimagenet.py, kept at this old path.
_base_ = '../linear/linear_dseq-vittiny_fast_synthimagenet.py'
