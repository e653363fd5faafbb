# The CLEVR Dist smoke probe (closest object's depth bin, 6 classes) for a DSeq-JEPA encoder.
_base_ = ['./clevr_count_dseq_vittiny_synthclevr.py']
task = 'dist'
model = dict(num_classes=6)
train_dataloader = dict(dataset=dict(task=task))
val_dataloader = dict(dataset=dict(task=task))
test_dataloader = dict(dataset=dict(task=task))
val_evaluator = dict(prefix='clevr_dist')
test_evaluator = val_evaluator
