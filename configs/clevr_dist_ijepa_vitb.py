# Alias of configs/clevr/linear_ijepa-vitb16_100e_clevr-dist.py, kept at this old path.
_base_ = './clevr/linear_ijepa-vitb16_100e_clevr-dist.py'
