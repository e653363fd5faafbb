# MSN's few-images-per-class logistic regression (SPEC section 4e; transfer/few_shot.py) on the
# frozen pretrained target encoder, ViT-B/16 at 224. For 1, 2 and 5 images per class, three draws
# each: the readouts of the drawn training images (test pipeline, no augmentation; the last block
# without the final norm, as MSN reads it), each centred and L2-normalised, fit a multinomial
# logistic regression (L2 penalty lambda 2.5e-4 divided by the image count, no intercept, solved to
# convergence or 300 iterations), tested on the test split.
# Nothing else trains; one process (the fits run on the CPU, and more processes are refused):
#   python tools/test.py CONFIG --cfg-options model.backbone.init_cfg.checkpoint=PATH
# draws the training images with seeds 0, 1, 2 (their lists are written into the run folder);
# --cfg-options test_cfg.subsets_dir=DIR reads MSN's lists, DIR/imagenet_subsets{1,2,3}/.
# I-JEPA's weights and readouts unless the config picks others (../pretrained/vitb16_in1k.py).
_base_ = ['../default_runtime.py', '../pretrained/vitb16_in1k.py']
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'])

shots = (1, 2, 5)
model = dict(
    type='FewShotLogistic',
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0,
                  drop_path_rate=0.0, **_base_.pretrained[_base_.pretrain_method]),
    num_classes=None,  # set by the task's config
    readouts=('avg',),
    final_norm=False,  # MSN's CLS token is the last block's output before the final norm
    lambd=2.5e-4,
    max_iter=300,
    tol=0.0)  # to convergence: scikit-learn's tol is not cyanure's (transfer/few_shot.py)
test_cfg = dict(type='FewShotTestLoop', shots=shots, draws=3, subsets_dir=None)
# a random-init encoder (init_cfg.checkpoint=None) is the same in every run
randomness = dict(seed=0)

# What a leaf takes (a dataset base sets test_evaluator and report too, so they cannot be set here)
fewshot_evaluator = dict(type='FewShotAccuracy', prefix='fewshot')
# the mean top-1 over the draws per shot count and readout, 5-shot first: a baseline's protocol is
# the first row of its readout (suite/results.py protocol_of), so it is 5-shot as the methods' is
fewshot_rows = {f'fewshot/top1_{k}shot_{r}': (f'top-1 {k}-shot {r}', 1)
                for k in sorted(shots, reverse=True) for r in ('avg', 'cls')}
fewshot_selection = 'no selection (fixed lambda 2.5e-4, MSN default)'
