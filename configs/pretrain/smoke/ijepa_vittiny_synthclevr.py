# I-JEPA pretraining of the suite's tiny encoder (6 blocks, 96 wide, 3 heads, patch 16) on the
# training images of the synthetic CLEVR tree (a flat folder, unlabeled) at 192x192, a 12x12 grid,
# for the 10 epochs of the smoke setting: the encoder that the `tiny` suite preset transfers to every
# task (configs/suite/tiny.py).
_base_ = './ijepa_vittiny_synthetic.py'

img_size = 192
patch_size = 16
model = dict(
    encoder=dict(embed_dim=96, depth=6, num_heads=3, img_size=img_size, patch_size=patch_size),
    predictor=dict(width=48, depth=2))
train_dataloader = dict(
    batch_size=32,
    collate_fn=dict(input_size=img_size, patch_size=patch_size),
    dataset=dict(data_root='{{$SYNTH_CLEVR_ROOT:data/synthetic_clevr}}/CLEVR_v1.0/images/train',
                 split='', crop_size=img_size))
# a checkpoint every 45 iterations (2.5 epochs on 600 images): the region pictures' grid shows how
# the order evolves over them
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=45, max_keep_ckpts=4))
