# ImageNet-1k few-shot logistic regression (MSN's protocol, SPEC section 4e) on the frozen I-JEPA
# ViT-B/16 target encoder: 1, 2 and 5 training images per class, three draws each, the average of
# the last block's patch tokens (without the final norm, as MSN reads its CLS token), tested on the
# 50,000 val images (resize 256, centre crop 224 for the training images too). Only the drawn
# images of train are encoded. One process:
#   python tools/test.py configs/lowshot/logistic_ijepa-vitb16_1-2-5shot_in1k.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/models/logistic_fewshot_vitb.py', '../_base_/datasets/imagenet_cls.py']
model = dict(num_classes=_base_.num_classes)
train_dataloader = None  # nothing trains through mmengine: the loop fits the regressions
test_evaluator = _base_.fewshot_evaluator
# 5-shot: of the three, its mean over draws varies least with the draw
report = dict(task='ImageNet-1k few-shot logistic',
              metrics=dict(_delete_=True, **_base_.fewshot_rows),
              protocol='top-1 5-shot avg',
              selection=_base_.fewshot_selection)
