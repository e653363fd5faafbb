# ImageNet-1k layer-wise probing of the frozen DSeq-JEPA ViT-B/16 target encoder:
# layerwise_ijepa-vitb16_28e_in1k.py with DSeq-JEPA's encoder and, beside every block's patch
# average, a head on that block's CLS token (block<k>_cls, through the final LayerNorm too): 24
# heads, trained in the same pass. Its report is the I-JEPA config's, whose rows name both readouts.
#   python tools/train.py configs/layerwise/layerwise_dseq-vitb16_28e_in1k.py --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './layerwise_ijepa-vitb16_28e_in1k.py'
pretrain_method = 'dseq'
model = dict(backbone=_base_.pretrained[pretrain_method],
             readouts=[f'block{k}_{kind}' for k in range(1, _base_.depth + 1)
                       for kind in ('avg', 'cls')])
