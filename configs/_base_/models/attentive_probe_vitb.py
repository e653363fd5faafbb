# Attentive probe on the frozen pretrained target encoder, ViT-B/16 at 224 (SPEC section 4f): heads
# that pool the last block's patch tokens (after the final norm) before a linear layer, trained side
# by side (transfer/attentive.py). The pooler is the V-JEPA-style one at depth 1 (the
# cross-attention block alone, without the output projection V-JEPA 1's has) with the encoder's 12
# heads; I-JEPA's weights unless the config picks others (../pretrained/vitb16_in1k.py).
_base_ = '../pretrained/vitb16_in1k.py'

model = dict(
    type='AttentiveProbe',
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0,
                  drop_path_rate=0.0, **_base_.pretrained[_base_.pretrain_method]),
    num_classes=None,  # set by the task's config
    readouts=('patches',),
    pooler=dict(kind='vjepa', depth=1, num_heads=12))

# What a leaf takes (a dataset base sets report too, so it cannot be set here): the report rows,
# the chosen head's top-1 per token readout (transfer.features.TOKEN_READOUTS)
attentive_rows = {f'accuracy/top1_{r}': (f'top-1 {r}', 1) for r in ('patches', 'cls_patches')}
