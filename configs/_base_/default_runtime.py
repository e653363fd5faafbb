# The runtime every family of the suite builds on (pretraining, Mask R-CNN, UperNet, the probes):
# mmengine's standard hooks with the suite's SafeCheckpointHook (engine.checkpoint: a killed save,
# a non-finite model or a run changed under a resume is never silently resumed from), a log line
# every 50 iterations, and the scalars and the config written to <run>/vis_data, where
# tools/leaderboard.py reads them. A family sets its registries (default_scope), its own modules
# (custom_imports, keeping engine.checkpoint) and its checkpoint interval over this.
default_scope = 'mmengine'
custom_imports = dict(imports=['engine.checkpoint'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
# Unnamed, so the runner names it after the run: two runs in one process keep their own folders.
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
# True (or --cfg-options tensorboard=True) also writes TensorBoard event files to <run>/vis_data
# (engine.visualization, applied by tools/train.py and tools/test.py).
tensorboard = False

env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_level = 'INFO'
load_from = None
resume = False
