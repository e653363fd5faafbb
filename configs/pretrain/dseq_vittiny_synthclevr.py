# DSeq-JEPA pretraining of the suite's tiny encoder: the I-JEPA setting with DSeq-JEPA's model.
_base_ = './ijepa_vittiny_synthclevr.py'
model = dict(type='DSeqJEPA', num_regions=5, min_area=0.15, curriculum='per_step')
