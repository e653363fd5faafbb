# CPU smoke run of DSeq-JEPA pretraining: the I-JEPA smoke setting with DSeq-JEPA's model.
_base_ = './ijepa_vitmicro8_10e_synthimagenet.py'
model = dict(type='DSeqJEPA', num_regions=5, min_area=0.15, curriculum='per_step')
