# Alias of configs/upernet/upernet_dseq-vittiny_40iter_synthade.py, kept at this old path.
_base_ = '../upernet/upernet_dseq-vittiny_40iter_synthade.py'
