# Alias of configs/pretrain/ijepa_vitmicro8_10e_synthimagenet.py, kept at this old path.
_base_ = '../ijepa_vitmicro8_10e_synthimagenet.py'
