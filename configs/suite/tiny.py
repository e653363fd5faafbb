# The `tiny` suite preset (tools/run_suite.py --preset tiny, the README's main job): synthetic data
# in the real layouts, the 6-block 96-wide ViT pretrained for 4 epochs with each method on CPU, then
# COCO Mask R-CNN, ADE20K UperNet, the CLEVR Count/Dist probes and the fast linear probe and kNN on
# a synthetic ImageNet-layout folder on each checkpoint, plus a randomly initialised encoder on the
# probes, and the leaderboard. Each checkpoint reaches the tasks through the layout its method's
# authors release (the I-JEPA release's and the DSeq-JEPA authors'), and a baseline in timm's
# layout (a DINOv2-style encoder with registers and layer scale) runs every task beside them.
# Within 15 minutes on 2 CPU cores.
work_dir = 'work_dirs/suite_tiny'
gpus = 0  # 0: one process on this machine (tools/train.py); N: torchrun over N GPUs

# written once (tools/make_synthetic_data.py) when the folder is absent
synthetic = dict(
    clevr=dict(root='data/suite_tiny/clevr', num_train=2000, num_val=3000, seed=0),
    coco=dict(root='data/suite_tiny/coco', num_train=16, num_val=8, seed=0),
    ade20k=dict(root='data/suite_tiny/ade', num_train=16, num_val=8, seed=0),
    imagenet=dict(root='data/suite_tiny/imagenet', num_train=600, num_val=600, seed=0,
                  random_colours=True),
    # timm's random initialisation of a DINOv2-with-registers encoder at the tiny size, written as
    # the model folder timm loads: the baseline's file (no DINOv2 weights can be had here)
    dinov2=dict(kind='timm_encoder', root='data/suite_tiny/weights/dinov2_reg4_vittiny_random',
                model='vit_small_patch14_reg4_dinov2', patch_size=16, embed_dim=96, depth=6,
                num_heads=3, img_size=192, seed=0))
env = dict(SYNTH_CLEVR_ROOT='data/suite_tiny/clevr', SYNTH_COCO_ROOT='data/suite_tiny/coco',
           SYNTH_ADE_ROOT='data/suite_tiny/ade', SYNTH_IMAGENET_ROOT='data/suite_tiny/imagenet')

pretrain = dict(ijepa='configs/pretrain/ijepa_vittiny_synthclevr.py',
                dseq='configs/pretrain/dseq_vittiny_synthclevr.py')
# each pretrained checkpoint converted to its method's released layout (tools/convert_checkpoint.py)
# before the tasks read it, so that both readers of released files run on every task
export = dict(ijepa='ijepa', dseq='dseq')
# a baseline from timm's layout on every task, on the DSeq-JEPA configs (their readouts use the
# CLS token), with the options its layout needs (suite/encoders.py)
baselines = dict(dinov2=dict(path=synthetic['dinov2']['root'], like='dseq',
                             backbone=dict(num_reg_tokens=4, layer_scale_init=1e-5)))

# Probes on the whole pools of the 2000 training scenes (90% / 10%: 1800 train, 200 val), not
# VTAB-1k's 800 / 200, tested on 3000 scenes: the tiny encoders differ from random init by a few
# points, which an 800-scene probe tested on 1000 scenes cannot resolve (two standard errors of
# the difference: 4.4 points); the vitb16 preset keeps the paper's VTAB-1k protocol.
_clevr = ['train_dataloader.dataset.num_train=1800', 'val_dataloader.dataset.num_val=200',
          'train_dataloader.batch_size=100', 'val_dataloader.batch_size=100',
          'test_dataloader.batch_size=100',
          # Count and Dist probe the same images with the same encoders: Dist loads the features
          # Count stored (the key hashes the encoder's weights and the images, not the labels)
          f'feature_store={work_dir}/feature_store']
# each task: one config per method; `random` names the config run again without weights
# (DSeq-JEPA's, whose CLS token gives the random encoder every readout); `test` evaluates the best
# checkpoint on the test split after training
transfer = [
    dict(name='coco',
         configs=dict(ijepa='configs/maskrcnn/maskrcnn_ijepa-vittiny_2e_synthcoco.py',
                      dseq='configs/maskrcnn/maskrcnn_dseq-vittiny_2e_synthcoco.py')),
    dict(name='ade20k',
         configs=dict(ijepa='configs/upernet/upernet_ijepa-vittiny_40iter_synthade.py',
                      dseq='configs/upernet/upernet_dseq-vittiny_40iter_synthade.py')),
    dict(name='clevr_count', random='dseq', test=True, options=_clevr,
         configs=dict(ijepa='configs/clevr/linear_ijepa-vittiny_100e_synthclevr-count.py',
                      dseq='configs/clevr/linear_dseq-vittiny_100e_synthclevr-count.py')),
    dict(name='clevr_dist', random='dseq', test=True, options=_clevr,
         configs=dict(ijepa='configs/clevr/linear_ijepa-vittiny_100e_synthclevr-dist.py',
                      dseq='configs/clevr/linear_dseq-vittiny_100e_synthclevr-dist.py')),
    # the classification transfer on the synthetic ImageNet-layout folder: the fast linear probe
    # (features encoded once, its head chosen on a held-out slice of train) and kNN (tested only)
    dict(name='imagenet_linear', random='dseq', test=True,
         configs=dict(ijepa='configs/linear/linear_ijepa-vittiny_fast_synthimagenet.py',
                      dseq='configs/linear/linear_dseq-vittiny_fast_synthimagenet.py')),
    dict(name='imagenet_knn', random='dseq', train=False,
         configs=dict(ijepa='configs/knn/knn_ijepa-vittiny_synthimagenet.py',
                      dseq='configs/knn/knn_dseq-vittiny_synthimagenet.py')),
]
# pictures over the checkpoints of the pretraining runs, for these images: the patch clusters of
# both methods (SPEC section 4c, k groups) and the DSeq-JEPA regions; the training curves are drawn
# for every preset
_images = [f'data/suite_tiny/clevr/CLEVR_v1.0/images/val/CLEVR_val_{i:06d}.png' for i in range(4)]
clusters = dict(images=_images, k=5)
regions = dict(method='dseq', images=_images)
