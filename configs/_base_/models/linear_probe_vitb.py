# Linear probe on the frozen pretrained target encoder, ViT-B/16 at 224 (SPEC section 4): one linear
# layer per readout, trained side by side (transfer/probe.py) on features encoded once or on images
# encoded at every step, as the schedule's loops decide; I-JEPA's weights unless the config picks
# others (../pretrained/vitb16_in1k.py).
_base_ = '../pretrained/vitb16_in1k.py'

model = dict(
    type='LinearProbe',
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0,
                  drop_path_rate=0.0, **_base_.pretrained[_base_.pretrain_method]),
    num_classes=None,  # set by the task's config
    readouts=('avg',))
