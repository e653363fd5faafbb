# CLEVR Dist (closest object's depth bin, 6 classes): attentive_ijepa-vitb16_100e_clevr-count.py on
# the other task.
_base_ = './attentive_ijepa-vitb16_100e_clevr-count.py'
task = 'dist'
