# The fast linear probe (_base_/schedules/linear_fast_grid.py) of linear_ijepa-vitb16_28e_in1k.py:
# one process, features encoded once, 15 heads per readout, the best on a held-out slice of the
# training set reported.
#   python tools/train.py configs/linear/linear_ijepa-vitb16_fast_in1k.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
#   python tools/test.py configs/linear/linear_ijepa-vitb16_fast_in1k.py \
#       work_dirs/linear_ijepa-vitb16_fast_in1k/epoch_28.pth
_base_ = ['./linear_ijepa-vitb16_28e_in1k.py', '../_base_/schedules/linear_fast_grid.py']
# held out: 2% of each class (26 of about 1,300), 25,600 images; the heads train on the rest
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ClassBalancedSubset', part='rest', fraction=0.02, seed=0,
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.test_pipeline)))
model = dict(head_grid=_base_.fast_probe.head_grid)
train_cfg = _base_.fast_probe.train_cfg
test_cfg = _base_.fast_probe.test_cfg
report = dict(task='ImageNet-1k linear (fast)',
              selection='head (lr, wd) best on a held-out slice of train')
