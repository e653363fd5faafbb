# UperNet, ViT-B/16 pretrained with I-JEPA (target encoder, no CLS token), ADE20K, the paper recipe:
# upernet_dseq_vitb_ade20k.py with the other checkpoint. Reads suite checkpoints and the official
# I-JEPA release format alike.
_base_ = './upernet_dseq_vitb_ade20k.py'
pretrain_method = 'ijepa'
model = dict(
    backbone=dict(use_cls_token=False,
                  init_cfg=dict(checkpoint='checkpoints/ijepa_vitb16_in1k.pth')))
