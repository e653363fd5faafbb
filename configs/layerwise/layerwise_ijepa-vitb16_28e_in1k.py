# ImageNet-1k layer-wise probing (SPEC section 4g) of the frozen I-JEPA ViT-B/16 target encoder:
# for every block k = 1..12, a BatchNorm (affine) + Linear head on block k's average-pooled patch
# tokens, each passed through the final LayerNorm as the 4b probe reads the last block
# (readout block<k>_avg, transfer/features.py). All heads train side by side in one pass over
# features encoded once (FeatureCacheTrainLoop, every split through the test pipeline: centre
# crops, no augmentation), with the recipe of SPEC section 4b (linear_sgd_28e.py: SGD Nesterov 0.9,
# wd 5e-4, lr 0.01 at batch 256, divided by 10 at epochs 8/16/24 of 28). One process, at a feature
# batch of 256: no --auto-scale-lr, which reads the image batch.
#   python tools/train.py configs/layerwise/layerwise_ijepa-vitb16_28e_in1k.py --test \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
#
# One head per block at the recipe's lr, no grid and no selection: the BatchNorm before each
# linear layer standardises every block's features, so one lr fits blocks whose feature scales
# differ; a grid would multiply the heads by 15 (960 for ViT-H/14's DSeq-JEPA) and make every point
# of the curve the best of 15 noisy held-out scores, moving it with the luck of the selection rather
# than with what the block holds.
#
# Memory: float16 features of all 1.28M training images would take 1.28M x 12 blocks x 768 x 2
# bytes = 23.6 GB (47.2 GB with DSeq-JEPA's CLS token, 210 GB for ViT-H/14's), twice that while the
# encoded batches are joined. The heads therefore train on a class-balanced 10% of train (about
# 128,000 images, 10% of each class, seed 0: the images of the 10% kNN bank): 2.4 GB (4.7 GB with
# CLS; 21 GB for ViT-H/14 with CLS); the 50,000 val images, all tested, take 0.9 GB (1.8 GB with
# CLS). The curve's level then stays below a probe on the whole training set; its shape over the
# blocks is what this probe measures.
_base_ = '../linear/linear_ijepa-vitb16_28e_in1k.py'
depth = 12
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ClassBalancedSubset', part='subset', fraction=0.1, seed=0,
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.test_pipeline)))
model = dict(readouts=[f'block{k}_avg' for k in range(1, depth + 1)])
train_cfg = dict(_delete_=True, type='FeatureCacheTrainLoop', max_epochs=28, batch_size=256,
                 feature_dtype='float16')
test_cfg = dict(type='FeatureCacheTestLoop', batch_size=1024, feature_dtype='float16')
# A row per block and readout (a readout a method lacks, I-JEPA's CLS, is never logged and so never
# read), the last block first: a baseline probed with this config (suite/results.py protocol_of)
# is read by the first row of its own readout, which is then the last block's, as the compared
# methods' protocol is.
report = dict(
    task='ImageNet-1k layer-wise',
    metrics=dict(_delete_=True, **{
        f'accuracy/top1_block{k}_{kind}': (f'top-1 block {k} {kind}', 1)
        for k in range(depth, 0, -1) for kind in ('avg', 'cls')}),
    # the last block's average, for both methods: the readout they share (I-JEPA has no CLS
    # token), the very features of the 4b probe's avg head, and the end of the curve
    protocol=f'top-1 block {depth} avg',
    selection='last epoch, no selection (one head per block at the recipe\'s lr; trained on a '
              'class-balanced 10% of train, centre crops)')
