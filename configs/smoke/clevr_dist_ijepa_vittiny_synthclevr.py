# The CLEVR Dist smoke probe (closest object's depth bin, 6 classes) for an I-JEPA encoder.
_base_ = './clevr_count_ijepa_vittiny_synthclevr.py'
task = 'dist'
