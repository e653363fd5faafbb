# The `tiny_ablations` suite preset: every row of the `ablations` preset on synthetic data in the
# `tiny` preset's layout, to show that every path works (not which setting is better): the tiny
# ViT's pretraining (configs/pretrain/*_vittiny_synthclevr.py, the rows' switches in
# configs/pretrain/ablations/*_vittiny_*) for 2 epochs (64 iterations) on 1024 synthetic CLEVR
# images, the fast linear probe of each on a synthetic ImageNet-layout folder (600 training and 600
# validation images in 3 classes told apart by the form of their shapes), then the leaderboard and
# the ablation tables (<work_dir>/ablations/ablations.{md,csv}; the published numbers are the
# paper's ViT-B/16 ones, for reference). Within 20 minutes on 2 CPU cores.
_base_ = './tiny.py'
work_dir = 'work_dirs/suite_tiny_ablations'

# only the pretraining images (no CLEVR probe here) and the probe's image folder
synthetic = dict(
    _delete_=True,
    clevr=dict(root='data/suite_tiny_ablations/clevr', num_train=1024, num_val=8, seed=0),
    imagenet=dict(root='data/suite_tiny_ablations/imagenet', num_train=600, num_val=600, seed=0,
                  random_colours=True))
env = dict(_delete_=True, SYNTH_CLEVR_ROOT='data/suite_tiny_ablations/clevr',
           SYNTH_IMAGENET_ROOT='data/suite_tiny_ablations/imagenet')

pretrain = dict(ijepa='configs/pretrain/ijepa_vittiny_synthclevr.py',
                dseq='configs/pretrain/dseq_vittiny_synthclevr.py')
pretrain_options = ['train_cfg.max_epochs=2']  # the warm-up epoch, then one of cosine decay
# the rows and the methods read alike (their own checkpoints), and no baseline: the tables compare
# the rows
export = dict(_delete_=True)
baselines = dict(_delete_=True)
_rows = ('regions-uniform', 'prediction-flat', 'order-random', 'order-spatial', 'order-inverse',
         'top_k-3', 'num_regions-3', 'num_regions-7', 'saliency-gradcam', 'curriculum-per_region')
ablations = {
    row: dict(pretrain=f'configs/pretrain/ablations/dseq_vittiny_synthclevr_{row}.py',
              method='dseq') for row in _rows}
transfer = [
    dict(name='imagenet_linear', test=True,
         configs=dict(ijepa='configs/linear/linear_ijepa-vittiny_fast_synthimagenet.py',
                      dseq='configs/linear/linear_dseq-vittiny_fast_synthimagenet.py')),
]
# the pictures: the training curves of every row; no clusters or regions
clusters = dict(images=[], k=5)
regions = dict(method='dseq', images=[])
