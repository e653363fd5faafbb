# The `released` suite preset: the published ViT-H/14 encoders through every task, no pretraining.
# The I-JEPA release (IN1K-vit.h.14-300e.pth.tar) and the DSeq-JEPA authors' ViT-H/14 file are read
# from the paths in IJEPA_VITH14 and DSEQ_VITH14 (a run stops before its first stage, naming the
# variable, when one is unset); MAE's and DeiT III's ViT-H/14 from timm's layout are added where
# MAE_VITH14 / DEIT3_VITH14 name their files (a model.safetensors, or the folder holding it), and
# left out otherwise. Then Mask R-CNN, UperNet, the CLEVR probes, the linear probes and kNN on
# ImageNet-1k, iNat21, CUB and Cars (8 GPUs each; the CLEVR probes on one), the frozen dense linear
# probes on ADE20K and NYU-Depth v2 over 3 seeds, a randomly initialised ViT-H/14 on the probes and
# kNN, and the leaderboard with the published ViT-H numbers beside ours and each encoder's file and
# sha256. Data from IMAGENET_ROOT, COCO_ROOT, ADE_ROOT, CLEVR_ROOT, INAT_ROOT, CUB_ROOT, CARS_ROOT
# and NYU_ROOT, as for the vitb16 preset.
work_dir = 'work_dirs/suite_released_vith14'
gpus = 8
synthetic = dict()
env = dict()

pretrain = dict()
# SPEC section 4i: I-JEPA's file holds encoder, predictor and target_encoder (the target encoder is
# the one evaluated); the authors' DSeq-JEPA file the same with a CLS token of its own (their
# configs name it vit-h16-cls.pth.tar although its patch is 14)
released = dict(
    ijepa=dict(env='IJEPA_VITH14', expect='IN1K-vit.h.14-300e.pth.tar (the I-JEPA release)'),
    dseq=dict(env='DSEQ_VITH14', expect="the DSeq-JEPA authors' ViT-H/14 checkpoint"))
# timm's MAE (vit_huge_patch14_224.mae: CLS token, plain blocks) and DeiT III
# (deit3_huge_patch14_224: supervised, layer scale) run on the DSeq-JEPA configs, whose readouts
# use the CLS token
baselines = dict(
    mae=dict(env='MAE_VITH14', like='dseq', optional=True,
             expect='timm vit_huge_patch14_224.mae'),
    deit3=dict(env='DEIT3_VITH14', like='dseq', optional=True,
               expect='timm deit3_huge_patch14_224', backbone=dict(layer_scale_init=1e-6)))

_methods = ('ijepa', 'dseq')
transfer = [
    dict(name='coco', configs={m: f'configs/maskrcnn/maskrcnn_{m}-vith14_25e_coco.py'
                               for m in _methods}),
    dict(name='ade20k', configs={m: f'configs/upernet/upernet_{m}-vith14_160k_ade20k.py'
                                 for m in _methods}),
    dict(name='clevr_count', random='dseq', test=True, gpus=0,
         configs={m: f'configs/clevr/linear_{m}-vith14_100e_clevr-count.py' for m in _methods}),
    dict(name='clevr_dist', random='dseq', test=True, gpus=0,
         configs={m: f'configs/clevr/linear_{m}-vith14_100e_clevr-dist.py' for m in _methods}),
] + [
    # as in the vitb16 preset: per dataset the linear probe (trained, its last checkpoint tested)
    # and kNN (tested only), both also on a random-init encoder
    dict(name=f'{data}_{protocol}', test=True, train=protocol == 'linear', random='dseq',
         configs={m: f'configs/{protocol}/{protocol}_{m}-vith14_{schedule}{data}.py'
                  for m in _methods})
    for data in ('in1k', 'inat21', 'cub', 'cars')
    for protocol, schedule in (('linear', '28e_'), ('knn', ''))] + [
    # the frozen dense linear probes (SPEC section 4h) over 3 seeds, as in the vitb16 preset: the
    # DINOv2 paper's MAE ViT-H/14 numbers stand in the ADE20K linear and the +token depth rows,
    # beside MAE's runs where MAE_VITH14 is given
    dict(name=name, seeds=[0, 1, 2], random=random,
         configs={m: f'configs/{path.format(m=m)}.py' for m in _methods})
    for name, path, random in (
        ('ade20k_linear', 'seglinear/seglinear_{m}-vith14_40k_ade20k', 'dseq'),
        ('nyu_linear', 'depthlinear/depthlinear_{m}-vith14_38k_nyu', 'dseq'),
        ('nyu_linear4', 'depthlinear/depthlinear4_{m}-vith14_38k_nyu', None),
        ('nyu_linear_token', 'depthlinear/depthlinear-token_{m}-vith14_38k_nyu', None),
        ('nyu_linear4_token', 'depthlinear/depthlinear4-token_{m}-vith14_38k_nyu', None))]
clusters = dict(images=[], k=5)
regions = dict(method='dseq', images=[])
