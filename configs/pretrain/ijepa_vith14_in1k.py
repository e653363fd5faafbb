# I-JEPA ViT-H/14 (1280 wide, 32 blocks, 16 heads; predictor 384 x 12), 300 epochs.
_base_ = './ijepa_vitb16_in1k.py'
patch_size = 14
model = dict(encoder=dict(arch='h', patch_size=patch_size), predictor=dict(depth=12))
train_dataloader = dict(collate_fn=dict(patch_size=patch_size))
train_cfg = dict(max_epochs=300)
