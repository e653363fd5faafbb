# CLEVR_v1.0 with the VTAB-1k splits (SPEC section 4): train800 and val200 from the training scenes
# sorted by file name, test = the 15,000 validation scenes; 224x224 bicubic resize, no augmentation.
# The root (the folder holding CLEVR_v1.0) comes from CLEVR_ROOT, default data/clevr.
# A config names its task once, task = 'count' or 'dist'. Its runner (ClevrProbeRunner in
# transfer/clevr.py) fills in what follows from it (None here) before it builds the run and saves
# the config: the datasets' task, the probe's classes, the evaluators' prefix clevr_<task> (the
# logged keys: clevr_count/top1_avg, ...) and the report's task and metrics.
runner_type = 'ClevrProbeRunner'
task = None
data_root = '{{$CLEVR_ROOT:data/clevr}}'
dataset = dict(type='ClevrDataset', data_root=data_root, task=None, img_size=224)

# Images are only read to fill the feature caches; the probe's batch (256) is train_cfg.batch_size.
_loader = dict(batch_size=64, num_workers=4, persistent_workers=False,
               sampler=dict(type='DefaultSampler', shuffle=False),
               collate_fn=dict(type='default_collate'))
train_dataloader = dict(**_loader, dataset=dict(**dataset, split='train800'))
val_dataloader = dict(**_loader, dataset=dict(**dataset, split='val200'))
test_dataloader = dict(**_loader, dataset=dict(**dataset, split='test'))
val_evaluator = dict(type='ProbeAccuracy', prefix=None)
test_evaluator = val_evaluator
# What the leaderboard reads (suite/results.py); the protocol readout is the probe's first readout,
# the patch-token average of models/linear_probe_vitb.py (a DSeq-JEPA config reads its CLS token).
report = dict(task=None, metrics=None, protocol='top-1 avg',
              selection='epoch best on val200 (training scenes)',
              input_size=(224, 224))  # the images, as suite/compute.py counts the encoder
