# Alias of configs/upernet/upernet_dseq-vitb16_160k_ade20k.py, kept at this old path.
_base_ = './upernet/upernet_dseq-vitb16_160k_ade20k.py'
