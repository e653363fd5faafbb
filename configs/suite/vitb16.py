# The `vitb16` suite preset: the paper's setting (SPEC sections 2, 4 and 4b) on the real datasets,
# read from IMAGENET_ROOT, COCO_ROOT, ADE_ROOT, CLEVR_ROOT, INAT_ROOT, CUB_ROOT and CARS_ROOT (see
# the README for the layouts): ViT-B/16 pretrained with each method on 8 GPUs, then Mask R-CNN,
# UperNet, the linear probes and kNN on ImageNet-1k, iNat21, CUB and Cars (8 GPUs each) and the
# CLEVR probes (one) of each checkpoint, random-init CLEVR and kNN baselines, and the leaderboard.
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
    for protocol, schedule in (('linear', '28e_'), ('knn', ''))]
# the pictures over the checkpoints (see tiny.py) need images: list some of IMAGENET_ROOT's val
clusters = dict(images=[], k=5)
regions = dict(method='dseq', images=[])
