# The `vitb16` suite preset: the paper's setting (SPEC sections 2, 4 and 4b) on the real datasets,
# read from IMAGENET_ROOT, COCO_ROOT, ADE_ROOT, CLEVR_ROOT, INAT_ROOT, CUB_ROOT, CARS_ROOT and
# NYU_ROOT (see the README for the layouts): ViT-B/16 pretrained with each method on 8 GPUs, then
# Mask R-CNN, UperNet, the linear probes and kNN on ImageNet-1k, iNat21, CUB and Cars (8 GPUs each)
# and the CLEVR probes (one) of each checkpoint, full and 1% fine-tuning, the few-shot logistic
# regression, the attentive probes and the layer-wise curve (SPEC sections 4d-4g), the frozen
# dense linear probes on ADE20K and NYU-Depth v2 over 3 seeds (4h), random-init CLEVR, kNN,
# few-shot, layer-wise and dense-probe baselines, and the leaderboard.
work_dir = 'work_dirs/suite_vitb16'
gpus = 8
synthetic = dict()
env = dict()

pretrain = dict(ijepa='configs/pretrain/ijepa_vitb16_in1k.py',
                dseq='configs/pretrain/dseq_vitb16_in1k.py')
transfer = [
    dict(name='coco', configs=dict(ijepa='configs/maskrcnn/maskrcnn_ijepa-vitb16_25e_coco.py',
                                   dseq='configs/maskrcnn/maskrcnn_dseq-vitb16_25e_coco.py')),
    dict(name='ade20k', configs=dict(ijepa='configs/upernet/upernet_ijepa-vitb16_160k_ade20k.py',
                                     dseq='configs/upernet/upernet_dseq-vitb16_160k_ade20k.py')),
    dict(name='clevr_count', random='dseq', test=True, gpus=0,
         configs=dict(ijepa='configs/clevr/linear_ijepa-vitb16_100e_clevr-count.py',
                      dseq='configs/clevr/linear_dseq-vitb16_100e_clevr-count.py')),
    dict(name='clevr_dist', random='dseq', test=True, gpus=0,
         configs=dict(ijepa='configs/clevr/linear_ijepa-vitb16_100e_clevr-dist.py',
                      dseq='configs/clevr/linear_dseq-vitb16_100e_clevr-dist.py')),
] + [
    # the classification transfer (SPEC section 4b) per dataset: the linear probe (trained, then
    # its last checkpoint tested) and kNN (tested only), kNN also on a random-init encoder
    dict(name=f'{data}_{protocol}', test=True, train=protocol == 'linear',
         random='dseq' if protocol == 'knn' else None,
         configs={m: f'configs/{protocol}/{protocol}_{m}-vitb16_{schedule}{data}.py'
                  for m in ('ijepa', 'dseq')})
    for data in ('in1k', 'inat21', 'cub', 'cars')
    for protocol, schedule in (('linear', '28e_'), ('knn', ''))] + [
    # the protocols of SPEC sections 4d-4g: full fine-tuning and I-JEPA's 1% low-shot fine-tuning
    # (8 GPUs, the last checkpoint tested), MSN's 1/2/5-images-per-class logistic regression (only
    # tested: it fits inside its test loop), the attentive probes (V-JEPA's pooler and EP on
    # augmented ImageNet images, 8 GPUs; on cached tokens for CUB, Cars and CLEVR, one process)
    # and the layer-wise curve (cached features, one process)
    dict(name=name, test=True, train=train, gpus=gpus, random=random,
         configs={m: f'configs/{path.format(m=m)}.py' for m in ('ijepa', 'dseq')})
    for name, path, train, gpus, random in (
        ('in1k_finetune', 'finetune/finetune_{m}-vitb16_100e_in1k', True, 8, None),
        ('in1k_1pct_finetune', 'lowshot/finetune_{m}-vitb16_50e_in1k-1pct', True, 8, None),
        ('in1k_fewshot_logistic', 'lowshot/logistic_{m}-vitb16_1-2-5shot_in1k', False, 0, 'dseq'),
        ('in1k_attentive', 'attentive/attentive_{m}-vitb16_20e_in1k', True, 8, None),
        ('in1k_ep', 'attentive/ep_{m}-vitb16_20e_in1k', True, 8, None),
        ('cub_attentive', 'attentive/attentive_{m}-vitb16_20e_cub', True, 0, None),
        ('cars_attentive', 'attentive/attentive_{m}-vitb16_20e_cars', True, 0, None),
        ('clevr_count_attentive', 'attentive/attentive_{m}-vitb16_100e_clevr-count', True, 0,
         None),
        ('clevr_dist_attentive', 'attentive/attentive_{m}-vitb16_100e_clevr-dist', True, 0,
         None),
        ('in1k_layerwise', 'layerwise/layerwise_{m}-vitb16_28e_in1k', True, 0, 'dseq'))] + [
    # the frozen dense linear probes of SPEC section 4h, cheap enough for 3 seeds each (the table
    # shows mean +- std and the seed-aware interval): ADE20K segmentation and NYU-Depth v2 depth
    # from the last block (lin. 1) and from 4 blocks (lin. 4), patch tokens only and with each
    # block's CLS (DSeq-JEPA) or average (I-JEPA) token beside them, DINOv2's depth head; trained
    # on 8 GPUs, their last iteration evaluated on the split reported (no selection); random-init
    # floors for the segmentation and the lin. 1 depth probe
    dict(name=name, seeds=[0, 1, 2], random=random,
         configs={m: f'configs/{path.format(m=m)}.py' for m in ('ijepa', 'dseq')})
    for name, path, random in (
        ('ade20k_linear', 'seglinear/seglinear_{m}-vitb16_40k_ade20k', 'dseq'),
        ('nyu_linear', 'depthlinear/depthlinear_{m}-vitb16_38k_nyu', 'dseq'),
        ('nyu_linear4', 'depthlinear/depthlinear4_{m}-vitb16_38k_nyu', None),
        ('nyu_linear_token', 'depthlinear/depthlinear-token_{m}-vitb16_38k_nyu', None),
        ('nyu_linear4_token', 'depthlinear/depthlinear4-token_{m}-vitb16_38k_nyu', None))]
# the pictures over the checkpoints (see tiny.py) need images: list some of IMAGENET_ROOT's val
clusters = dict(images=[], k=5)
regions = dict(method='dseq', images=[])
