# ImageNet-1k full fine-tuning of the DSeq-JEPA ViT-H/14 target encoder, MAE's ViT-H/14 recipe:
# finetune-mae_ijepa-vith14_50e_in1k.py with DSeq-JEPA's encoder, average pooling (CLS excluded).
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './finetune-mae_ijepa-vith14_50e_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method])
