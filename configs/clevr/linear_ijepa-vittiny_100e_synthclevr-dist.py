# The CLEVR Dist smoke probe (closest object's depth bin, 6 classes) for an I-JEPA encoder.
_base_ = './linear_ijepa-vittiny_100e_synthclevr-count.py'
task = 'dist'
