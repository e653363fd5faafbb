# kNN classification on the frozen pretrained target encoder, ViT-B/16 at 224 (SPEC section 4b;
# transfer/knn.py): cosine similarity of L2-normalised features, the k = 20 nearest bank images
# voting with weight exp(similarity / 0.07), per readout. Nothing is trained:
#   python tools/test.py CONFIG --cfg-options model.backbone.init_cfg.checkpoint=PATH
# encodes the bank, then classifies the test split. The bank is the training split through the
# test pipeline (KNNTestLoop's default); a config may name another: test_cfg.bank_dataloader.
# I-JEPA's weights and readouts unless the config picks others (../pretrained/vitb16_in1k.py).
_base_ = ['../default_runtime.py', '../pretrained/vitb16_in1k.py']
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'])

model = dict(
    type='KNNClassifier',
    backbone=dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0,
                  drop_path_rate=0.0, **_base_.pretrained[_base_.pretrain_method]),
    num_classes=None,  # set by the task's config
    readouts=('concat4', 'avg'),
    k=20,
    temperature=0.07)
test_cfg = dict(type='KNNTestLoop')
# nothing to train, so no DDP: each process keeps its encoder (the same weights on every one)
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
# a random-init encoder (init_cfg.checkpoint=None) is the same in every run
randomness = dict(seed=0)
