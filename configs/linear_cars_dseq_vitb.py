# Alias of configs/linear/linear_dseq-vitb16_28e_cars.py, kept at this old path.
_base_ = './linear/linear_dseq-vitb16_28e_cars.py'
