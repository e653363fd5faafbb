# CLEVR Dist (closest object's depth bin, 6 classes): clevr_count_dseq_vitb.py on the other task.
_base_ = './clevr_count_dseq_vitb.py'
task = 'dist'
