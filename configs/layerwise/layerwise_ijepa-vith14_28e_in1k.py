# ImageNet-1k layer-wise probing of the frozen I-JEPA ViT-H/14 target encoder
# (../_base_/pretrained/vith14_in1k.py: patch 14 at 224, a 16x16 grid):
# layerwise_ijepa-vitb16_28e_in1k.py over its 32 blocks, the rest as the ViT-B/16 config has it.
# Its cached float16 features: 1,280 values per block and image, 32 blocks: 10.5 GB for the 10%
# of train (21 GB with DSeq-JEPA's CLS), 4.1 GB for the 50,000 val images (8.2 GB), in host memory.
# Weights: IJEPA_VITH14=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./layerwise_ijepa-vitb16_28e_in1k.py', '../_base_/pretrained/vith14_in1k.py']
depth = 32
pretrained = _base_.pretrained_vith14
model = dict(backbone=dict(**_base_.vith14, **pretrained[_base_.pretrain_method]),
             readouts=[f'block{k}_avg' for k in range(1, depth + 1)])
# every row anew (the ViT-B/16 config's are of 12 blocks), the last block first as there
report = dict(
    metrics=dict(_delete_=True, **{
        f'accuracy/top1_block{k}_{kind}': (f'top-1 block {k} {kind}', 1)
        for k in range(depth, 0, -1) for kind in ('avg', 'cls')}),
    protocol=f'top-1 block {depth} avg')
