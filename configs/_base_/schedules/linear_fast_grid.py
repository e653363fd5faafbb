# The fast linear probe, a cheap stand-in for the recipe of linear_sgd_28e.py (whose SGD, Nesterov
# momentum 0.9, lr 0.01 at batch 256 and steps at epochs 8/16/24 of 28 it keeps): every split is
# encoded once, as the test split is (centre crops, no augmentation), and a grid of heads trains
# side by side on the cached features; per readout, the head best on a class-balanced held-out
# slice of the training set (never the reported split) gives the reported top-1. The schedule stays
# the recipe's because the heads' epochs over cached features cost little beside the one encoding
# pass (tools/benchmark_probe.py), and it keeps the two probes apart by the augmentation and the
# selection alone. Runs in one process (the features of the whole training set are gathered in
# it), at a feature batch of 256: no --auto-scale-lr, which reads the image batch.
#
# A fast leaf is its recipe leaf plus this file, the held-out slice written once, as the training
# set the heads train on (ClassBalancedSubset part='rest', through the test pipeline; the test
# loop selects on its part='subset'), and these fields:
#   model = dict(head_grid=_base_.fast_probe.head_grid)
#   train_cfg = _base_.fast_probe.train_cfg
#   test_cfg = _base_.fast_probe.test_cfg
fast_probe = dict(
    # per readout 5 lrs (0.001 to 0.1, around the recipe's 0.01) x 3 weight decays (none, the
    # recipe's 5e-4, ten times it): 15 heads, each its own param group
    head_grid=dict(lr_scales=(0.1, 0.3, 1.0, 3.0, 10.0), weight_decays=(0.0, 5e-4, 5e-3)),
    # float16 features: ImageNet's 1.28M at ViT-B take 9.8 GB for concat4 + avg (I-JEPA) and 11.8
    # GB with cls (DSeq-JEPA), half of float32's; the heads read them as float32
    train_cfg=dict(type='FeatureCacheTrainLoop', batch_size=256, feature_dtype='float16'),
    test_cfg=dict(type='FeatureCacheTestLoop', batch_size=1024, feature_dtype='float16',
                  select_on_heldout=True))
