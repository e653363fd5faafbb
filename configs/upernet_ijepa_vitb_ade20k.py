# Alias of configs/upernet/upernet_ijepa-vitb16_160k_ade20k.py, kept at this old path.
_base_ = './upernet/upernet_ijepa-vitb16_160k_ade20k.py'
