# The CLEVR Dist smoke probe (closest object's depth bin, 6 classes) for a DSeq-JEPA encoder.
_base_ = './clevr_count_dseq_vittiny_synthclevr.py'
task = 'dist'
