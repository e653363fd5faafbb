# The V-JEPA 2 variant of attentive_ijepa-vitb16_20e_in1k.py (SPEC section 4f): a depth-4 pooler
# (3 self-attention blocks over the tokens, then the cross-attention block) and V-JEPA 2's
# schedule: 5 warm-up epochs from 0.2x the lr (2e-4 for the lr 1e-3 head), then cosine to 0, the
# weight decay constant. Its grid stays the depth-1 recipe's 9 heads rather than V-JEPA 2's 21
# (4 lrs x 5 weight decays, plus one head without warm-up): each depth-4 head runs three more
# blocks over every token of every image. LinearLR's start_factor scales each grid head's own lr,
# so the 0.5x and 2x heads warm up from 1e-4 and 4e-4, where V-JEPA 2 starts every head from the
# same absolute 2e-4.
_base_ = './attentive_ijepa-vitb16_20e_in1k.py'
model = dict(pooler=dict(depth=4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, end_factor=1.0, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=5,
         convert_to_iter_based=True)]
report = dict(task='ImageNet-1k attentive (depth 4)')
