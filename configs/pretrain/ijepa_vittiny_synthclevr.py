# I-JEPA pretraining of the suite's tiny encoder (6 blocks, 96 wide, 3 heads, patch 16) on the
# training images of the synthetic CLEVR tree (a flat folder, unlabeled) at 192x192, a 12x12 grid:
# the encoder that the `tiny` suite preset transfers to every task (configs/suite/tiny.py).
_base_ = './ijepa_vitmicro8_10e_synthimagenet.py'

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
# 248 iterations on the preset's 2000 images, about 2 minutes on 2 CPU cores
train_cfg = dict(max_epochs=4)
# The paper's peak lr (1e-3) is for batch 2048; at batch 32 the square-root rule gives 1.25e-4. At
# 1e-3 this encoder's tokens collapse to about 2 effective dimensions within 200 iterations and
# keep less of the scene than a random encoder does; at 1e-4 they keep about 6 of its 8.
optim_wrapper = dict(optimizer=dict(lr=1e-4))
# a checkpoint every epoch: the region pictures' grid shows how the order evolves over them
default_hooks = dict(logger=dict(interval=31), checkpoint=dict(interval=62, max_keep_ckpts=4))
