# CLEVR Dist: attentive_dseq-vitb16_100e_clevr-count.py on the other task.
_base_ = './attentive_dseq-vitb16_100e_clevr-count.py'
task = 'dist'
