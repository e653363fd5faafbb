# Alias of configs/pretrain/ijepa_vittiny_synthclevr.py, kept at this old path.
_base_ = '../ijepa_vittiny_synthclevr.py'
