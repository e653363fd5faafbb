# CPU smoke run of the fast linear probe (../_base_/schedules/linear_fast_grid.py) on
# linear_ijepa-vittiny_7e_synthimagenet.py's encoder and images, in one process.
_base_ = ['./linear_ijepa-vittiny_7e_synthimagenet.py', '../_base_/schedules/linear_fast_grid.py']
# held out: a quarter of each class (5 or 6 of the 21 or 22 images of 64); the heads train on the
# rest
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ClassBalancedSubset', part='rest', fraction=0.25, seed=0,
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.test_pipeline)))
model = dict(head_grid=_base_.fast_probe.head_grid)
train_cfg = dict(_base_.fast_probe.train_cfg, batch_size=16)  # the image batch of the recipe smoke
test_cfg = _base_.fast_probe.test_cfg
report = dict(task='synthetic ImageNet linear (fast)',
              selection='head (lr, wd) best on a held-out slice of train')
