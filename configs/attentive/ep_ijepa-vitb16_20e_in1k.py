# Efficient probing (EP, SPEC section 4f) of the frozen I-JEPA ViT-B/16 on ImageNet-1k: 32 queries
# in one head over the raw patch tokens, each pooling its own 24-channel group of the values, then
# BatchNorm without affine parameters and a linear layer. The recipe is the attentive probe's
# (attentive_ijepa-vitb16_20e_in1k.py: AdamW 20 epochs, V-JEPA's augmentation, 9 heads chosen on a
# held-out slice of train) in place of EP's own (LARS, base lr 0.1 at batch 4096, 90 epochs, 10
# warm-up, no weight decay, crop and flip only, best epoch on val), so that the two poolers differ
# by the pooler alone.
_base_ = './attentive_ijepa-vitb16_20e_in1k.py'
model = dict(pooler=dict(_delete_=True, kind='efficient', num_queries=32))
report = dict(task='ImageNet-1k attentive (EP)')
