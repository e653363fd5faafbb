# The ViT-B/16 encoders pretrained on ImageNet-1K that a transfer config loads, by pretraining
# method: the target (EMA) encoder, with the CLS token that DSeq-JEPA adds (SPEC sections 3-4). The
# model bases take I-JEPA's; a DSeq-JEPA config takes the other with
#   pretrain_method = 'dseq'
#   model = dict(backbone=_base_.pretrained[pretrain_method])
# Other weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH (suite checkpoints and the
# official I-JEPA release alike).
pretrained = dict(
    ijepa=dict(use_cls_token=False,
               init_cfg=dict(type='Pretrained', checkpoint='checkpoints/ijepa_vitb16_in1k.pth',
                             encoder='target')),
    dseq=dict(use_cls_token=True,
              init_cfg=dict(type='Pretrained', checkpoint='checkpoints/dseq_vitb16_in1k.pth',
                            encoder='target')))
# the pretraining behind the weights, read by tools/leaderboard.py (random init: 'random')
pretrain_method = 'ijepa'
