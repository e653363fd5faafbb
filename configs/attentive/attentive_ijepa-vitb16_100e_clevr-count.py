# CLEVR Count (VTAB-1k splits): V-JEPA 1's attentive-probe recipe (the V-JEPA-style depth-1 pooler,
# 12 heads) on the frozen I-JEPA ViT-B/16 target encoder's last-block patch tokens, cached once
# (224x224, no augmentation; ../_base_/schedules/attentive_cached_20e.py's AdamW and 9 heads) for
# the CLEVR probes' 100 epochs at batch 256 (20 would leave the 800 training scenes 60 steps). Each
# readout's head is chosen on val200 (scenes of the training pool, never the reported test split),
# the heads of the last epoch tested. The config names its task once (task = 'count' or 'dist');
# ClevrAttentiveProbeRunner fills in what follows, as the linear CLEVR probes' runner does, and
# names the rows 'CLEVR Count attentive'.
#   python tools/train.py configs/attentive/attentive_ijepa-vitb16_100e_clevr-count.py --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/attentive_probe_vitb.py', '../_base_/datasets/clevr_vtab1k.py',
          '../_base_/schedules/attentive_cached_20e.py']
runner_type = 'ClevrAttentiveProbeRunner'
task = 'count'
model = dict(head_grid=_base_.attentive_grid)
# validated once, at the end (every head's val200 top-1, logged); nothing is kept as best
train_cfg = dict(max_epochs=100, val_interval=100)
val_cfg = dict(type='FeatureCacheValLoop', batch_size=256, feature_dtype='float16')
test_cfg = dict(select_on_heldout=False, selection_dataloader=_base_.val_dataloader)
report = dict(protocol='top-1 patches', selection='head (lr, wd) best on val200 (training scenes)')
