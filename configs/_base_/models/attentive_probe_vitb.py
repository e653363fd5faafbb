# Attentive probe on the frozen pretrained target encoder, ViT-B/16 at 224 (SPEC section 4f): heads
# that pool the last block's patch tokens (after the final norm) before a linear layer, trained side
# by side (transfer/attentive.py). The pooler is V-JEPA's at depth 1 (the cross-attention block
# alone) with the encoder's 12 heads; I-JEPA's weights unless the config picks others
# (../pretrained/vitb16_in1k.py).
_base_ = '../pretrained/vitb16_in1k.py'

model = dict(
    type='AttentiveProbe',
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0,
                  drop_path_rate=0.0, **_base_.pretrained[_base_.pretrain_method]),
    num_classes=None,  # set by the task's config
    readouts=('patches',),
    pooler=dict(kind='vjepa', depth=1, num_heads=12))
