# Linear-probe schedule (SPEC section 4): AdamW lr 1e-3 wd 0.05, batch 256, 100 epochs, cosine to 0
# per iteration, no warm-up, fp32. Validation every 10 epochs; the checkpoint with the best
# validation top-1 of the first readout is kept for tools/test.py, and the last one.
_base_ = '../default_runtime.py'
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'])

train_cfg = dict(type='FeatureCacheTrainLoop', max_epochs=100, batch_size=256, val_interval=10)
val_cfg = dict(type='FeatureCacheValLoop')
test_cfg = dict(type='FeatureCacheTestLoop')
# a folder: the loops save the encoded features there and load them in later probes of the same
# encoder weights on the same images (e.g. CLEVR Dist after Count; transfer/feature_store.py).
# Only datasets with feature_key() (ClevrDataset) are stored; None: encode in every run
feature_store = None

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05))
# the cosine runs to the end of training (the runner sets its `end` to train_cfg.max_epochs)
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
                        convert_to_iter_based=True)]

default_hooks = dict(
    logger=dict(interval=10),
    # interval -1: no periodic checkpoint, whatever max_epochs is; the hook saves the last anyway
    checkpoint=dict(interval=-1, save_best='auto', max_keep_ckpts=1))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
