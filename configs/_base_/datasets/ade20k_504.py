# ADE20K for patch 14: ade20k_512.py with 504x504 training crops (36 x 14; 512 is not a multiple of
# 14), the DSeq-JEPA authors' ViT-H crop (SPEC section 4). The rescaling to short side 512 (0.5-2.0
# in training) and the single-scale test are unchanged.
_base_ = './ade20k_512.py'
crop_size = (504, 504)
train_pipeline = [dict(t, crop_size=crop_size) if t.type == 'RandomCrop' else t
                  for t in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
report = dict(input_size=crop_size)
