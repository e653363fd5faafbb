# The ViT-H/14 encoders pretrained on ImageNet-1K (224 pixels, a 16x16 grid) that a ViT-H transfer
# config loads, by pretraining method: the target (EMA) encoder, with the CLS token that DSeq-JEPA
# adds (SPEC sections 3-4, 4i). A checkpoint path comes from an environment variable, else the
# default below: IJEPA_VITH14 (default: the name of the I-JEPA release's ViT-H/14 file) and
# DSEQ_VITH14 (the authors' file name is not known; their configs call it vit-h16-cls.pth.tar
# although its patch is 14, so the default is the suite's own name). One run's weights:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
#
# The table is pretrained_vith14, not pretrained: every ViT-H config builds on a ViT-B one, whose
# model base already brings vitb16_in1k.py's `pretrained`, and mmengine refuses a key that two
# bases both define. A ViT-H config sets
#   pretrained = _base_.pretrained_vith14
#   model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]))
# so its `pretrained` is this table, and a DSeq-JEPA config derived from it takes
# pretrained['dseq'] as a ViT-B one does.
vith14 = dict(arch='h', patch_size=14, img_size=224)
pretrained_vith14 = dict(
    ijepa=dict(use_cls_token=False,
               init_cfg=dict(type='Pretrained',
                             checkpoint='{{$IJEPA_VITH14:checkpoints/IN1K-vit.h.14-300e.pth.tar}}',
                             encoder='target')),
    dseq=dict(use_cls_token=True,
              init_cfg=dict(type='Pretrained',
                            checkpoint='{{$DSEQ_VITH14:checkpoints/dseq_vith14.pth.tar}}',
                            encoder='target')))
