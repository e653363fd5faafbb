# The `tiny` suite preset (tools/run_suite.py --preset tiny, the README's main job): synthetic data in
# the real layouts, the 6-block 96-wide ViT pretrained for 4 epochs with each method on CPU, then
# COCO Mask R-CNN, ADE20K UperNet, the CLEVR Count/Dist probes and the fast linear probe and kNN on
# a synthetic ImageNet-layout folder on each checkpoint, plus a randomly initialised encoder on the
# probes, and the leaderboard. Within 15 minutes on 2 CPU cores.
work_dir = 'work_dirs/suite_tiny'
gpus = 0  # 0: one process on this machine (tools/train.py); N: torchrun over N GPUs

# written once (tools/make_synthetic_data.py) when the folder is absent
synthetic = dict(
    clevr=dict(root='data/suite_tiny/clevr', num_train=2000, num_val=3000, seed=0),
    coco=dict(root='data/suite_tiny/coco', num_train=16, num_val=8, seed=0),
    ade20k=dict(root='data/suite_tiny/ade', num_train=16, num_val=8, seed=0),
    imagenet=dict(root='data/suite_tiny/imagenet', num_train=600, num_val=600, seed=0,
                  random_colours=True))
env = dict(SYNTH_CLEVR_ROOT='data/suite_tiny/clevr', SYNTH_COCO_ROOT='data/suite_tiny/coco',
           SYNTH_ADE_ROOT='data/suite_tiny/ade', SYNTH_IMAGENET_ROOT='data/suite_tiny/imagenet')

pretrain = dict(ijepa='configs/pretrain/smoke/ijepa_vittiny_synthclevr.py',
                dseq='configs/pretrain/smoke/dseq_vittiny_synthclevr.py')

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
# each task: one config per method; `random` names the config run again without weights (DSeq-JEPA's,
# whose CLS token gives the random encoder every readout);
# `test` evaluates the best checkpoint on the test split after training
transfer = [
    dict(name='coco', configs=dict(ijepa='configs/smoke/maskrcnn_ijepa_vittiny_synthcoco.py',
                                   dseq='configs/smoke/maskrcnn_dseq_vittiny_synthcoco.py')),
    dict(name='ade20k', configs=dict(ijepa='configs/smoke/upernet_ijepa_vittiny_synthade.py',
                                     dseq='configs/smoke/upernet_dseq_vittiny_synthade.py')),
    dict(name='clevr_count', random='dseq', test=True, options=_clevr,
         configs=dict(ijepa='configs/smoke/clevr_count_ijepa_vittiny_synthclevr.py',
                      dseq='configs/smoke/clevr_count_dseq_vittiny_synthclevr.py')),
    dict(name='clevr_dist', random='dseq', test=True, options=_clevr,
         configs=dict(ijepa='configs/smoke/clevr_dist_ijepa_vittiny_synthclevr.py',
                      dseq='configs/smoke/clevr_dist_dseq_vittiny_synthclevr.py')),
    # the classification transfer on the synthetic ImageNet-layout folder: the fast linear probe
    # (features encoded once, its head chosen on a held-out slice of train) and kNN (tested only)
    dict(name='imagenet_linear', random='dseq', test=True,
         configs=dict(ijepa='configs/smoke/linear_ijepa_vittiny_synthimagenet_fast.py',
                      dseq='configs/smoke/linear_dseq_vittiny_synthimagenet_fast.py')),
    dict(name='imagenet_knn', random='dseq', train=False,
         configs=dict(ijepa='configs/smoke/knn_ijepa_vittiny_synthimagenet.py',
                      dseq='configs/smoke/knn_dseq_vittiny_synthimagenet.py')),
]
# pictures over the checkpoints of the pretraining runs, for these images: the patch clusters of
# both methods (SPEC section 4c, k groups) and the DSeq-JEPA regions; the training curves are drawn
# for every preset
_images = [f'data/suite_tiny/clevr/CLEVR_v1.0/images/val/CLEVR_val_{i:06d}.png' for i in range(4)]
clusters = dict(images=_images, k=5)
regions = dict(method='dseq', images=_images)
