# Alias of configs/clevr/linear_dseq-vitb16_100e_clevr-count.py, kept at this old path.
_base_ = './clevr/linear_dseq-vitb16_100e_clevr-count.py'
