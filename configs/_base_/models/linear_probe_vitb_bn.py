# The heads of the classification linear-probe recipe (SPEC section 4b) on linear_probe_vitb.py:
# two side by side, each a BatchNorm with affine parameters and a linear layer, on concat4 (the
# averaged patch tokens of the last 4 blocks, each after the final LayerNorm, concatenated; the
# reported one) and avg (the last block's).
_base_ = './linear_probe_vitb.py'

model = dict(readouts=('concat4', 'avg'), head_norm='batchnorm')
