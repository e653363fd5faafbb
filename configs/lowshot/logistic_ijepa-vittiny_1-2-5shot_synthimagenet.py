# CPU smoke run of the few-shot logistic regression (logistic_ijepa-vitb16_1-2-5shot_in1k.py) on
# the suite's tiny encoder (6 blocks, 96 wide, 3 heads, patch 16; random init unless
# init_cfg.checkpoint is given) at 192x192 (resize 219, centre crop 192), on the synthetic
# ImageNet folder of
#   python tools/make_synthetic_data.py imagenet data/synthetic_imagenet --num-train 60 --num-val 30
# 1, 2 and 5 training images of each of its 3 classes, three draws each, in this process.
_base_ = ['../_base_/models/logistic_fewshot_vitb.py',
          '../_base_/datasets/synthimagenet_cls_192.py']
model = dict(
    num_classes=_base_.num_classes,
    backbone=dict(embed_dim=96, depth=6, num_heads=3, img_size=192,
                  init_cfg=dict(checkpoint=None)))
train_dataloader = None  # nothing trains through mmengine: the loop fits the regressions
test_evaluator = _base_.fewshot_evaluator
report = dict(task='synthetic ImageNet few-shot logistic',
              metrics=dict(_delete_=True, **_base_.fewshot_rows),
              protocol='top-1 5-shot avg',
              selection=_base_.fewshot_selection)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
