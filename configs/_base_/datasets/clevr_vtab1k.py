# CLEVR_v1.0 with the VTAB-1k splits (SPEC section 4): train800 and val200 from the training scenes
# sorted by file name, test = the 15,000 validation scenes; 224x224 bicubic resize, no augmentation.
# The root (the folder holding CLEVR_v1.0) comes from CLEVR_ROOT, default data/clevr. The task's
# config sets ``task`` in the three datasets ('count' or 'dist').
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
