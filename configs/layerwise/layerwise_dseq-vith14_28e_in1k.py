# ImageNet-1k layer-wise probing of the frozen DSeq-JEPA ViT-H/14 target encoder:
# layerwise_ijepa-vith14_28e_in1k.py with DSeq-JEPA's encoder and a CLS head beside every block's
# patch average (64 heads).
# Weights: DSEQ_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './layerwise_ijepa-vith14_28e_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method],
             readouts=[f'block{k}_{kind}' for k in range(1, _base_.depth + 1)
                       for kind in ('avg', 'cls')])
