# Alias of configs/linear/linear_ijepa-vitb16_fast_in1k.py, kept at this old path.
_base_ = './linear/linear_ijepa-vitb16_fast_in1k.py'
