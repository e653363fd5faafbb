# The CLEVR Dist smoke probe (closest object's depth bin, 6 classes) for a DSeq-JEPA encoder.
_base_ = './linear_dseq-vittiny_100e_synthclevr-count.py'
task = 'dist'
