# Alias of configs/linear/linear_dseq-vitb16_28e_in1k.py, kept at this old path.
_base_ = './linear/linear_dseq-vitb16_28e_in1k.py'
