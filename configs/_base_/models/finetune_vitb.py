# Full fine-tuning (SPEC section 4d, MAE's models_vit.py): the pretrained ViT-B/16 target encoder,
# all of it trained, with a new linear head (trunc-normal std 2e-5) on the average of the last
# block's patch tokens (CLS excluded) through a new LayerNorm, fc_norm (transfer/finetune.py);
# I-JEPA's weights unless the config picks others (../pretrained/vitb16_in1k.py). The position
# table, fixed in pretraining, is a trained parameter here, as in MAE's fine-tuning (timm's ViT).
# Drop path grows linearly over the blocks to 0.1. Mixup 0.8 and CutMix 1.0 on every batch
# (switching with probability 0.5), their targets smoothed by 0.1, with a soft-target
# cross-entropy; model.mixup=None trains on label-smoothed (0.1) cross-entropy instead.
_base_ = '../pretrained/vitb16_in1k.py'

model = dict(
    type='FineTuneClassifier',
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0,
                  pos_embed='learned', drop_path_rate=0.1,
                  **_base_.pretrained[_base_.pretrain_method]),
    num_classes=None,  # set by the task's config
    pooling='avg',
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch',
               label_smoothing=0.1),
    label_smoothing=0.1)
