# The attentive probe on features encoded once (no augmentation; SPEC section 4f), where a
# training set's tokens fit in memory: CUB, Cars, CLEVR and the smoke runs. The optimiser, the
# schedules and the grid of heads are attentive_adamw_20e.py's; every split is encoded once through
# the test pipeline and kept as float16 tokens (CUB's 5,994 images at ViT-B: 1.8 GB; iNat21's
# 500,000 would take 150 GB, so iNat21 has no cached config), and the heads train on them at a
# batch of 256 (1024 would leave CUB about 100 steps). The test loop chooses each readout's head on
# a held-out slice of the training set (select_on_heldout: train on ClassBalancedSubset
# part='rest', choose on part='subset', both through the test pipeline) before it tests.
# Runs in one process.
_base_ = './attentive_adamw_20e.py'

train_cfg = dict(_delete_=True, type='FeatureCacheTrainLoop', max_epochs=20, batch_size=256,
                 feature_dtype='float16')
test_cfg = dict(_delete_=True, type='FeatureCacheTestLoop', batch_size=256,
                feature_dtype='float16', select_on_heldout=True)
# the features' batch is not the image batch that --auto-scale-lr reads
auto_scale_lr = dict(enable=False)
# interval -1: no periodic checkpoint; the hook saves the last, which tools/test.py tests
default_hooks = dict(checkpoint=dict(interval=-1, max_keep_ckpts=1))
custom_hooks = []
