# Alias of configs/linear/linear_ijepa-vitb16_28e_cars.py, kept at this old path.
_base_ = './linear/linear_ijepa-vitb16_28e_cars.py'
