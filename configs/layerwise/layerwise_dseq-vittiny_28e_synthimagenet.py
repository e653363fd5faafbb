# The layer-wise smoke probe for a DSeq-JEPA encoder: with its CLS token, a CLS head beside every
# block's patch average (12 heads).
_base_ = './layerwise_ijepa-vittiny_28e_synthimagenet.py'
pretrain_method = 'dseq'
model = dict(backbone=dict(use_cls_token=True),
             readouts=[f'block{k}_{kind}' for k in range(1, _base_.depth + 1)
                       for kind in ('avg', 'cls')])
