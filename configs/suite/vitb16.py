# The `vitb16` suite preset: the paper's setting (SPEC sections 2 and 4) on the real datasets, read
# from IMAGENET_ROOT, COCO_ROOT, ADE_ROOT and CLEVR_ROOT (see the README for the layouts): ViT-B/16
# pretrained with each method on 8 GPUs, then Mask R-CNN, UperNet and the CLEVR probes of each
# checkpoint on 8 GPUs (the probes on one), a random-init CLEVR baseline, and the leaderboard.
work_dir = 'work_dirs/suite_vitb16'
gpus = 8
synthetic = dict()
env = dict()

pretrain = dict(ijepa='configs/pretrain/ijepa_vitb16_in1k.py',
                dseq='configs/pretrain/dseq_vitb16_in1k.py')
transfer = [
    dict(name='coco', configs=dict(ijepa='configs/maskrcnn_ijepa_vitb.py',
                                   dseq='configs/maskrcnn_dseq_vitb.py')),
    dict(name='ade20k', configs=dict(ijepa='configs/upernet_ijepa_vitb_ade20k.py',
                                     dseq='configs/upernet_dseq_vitb_ade20k.py')),
    dict(name='clevr_count', random='dseq', test=True, gpus=0,
         configs=dict(ijepa='configs/clevr_count_ijepa_vitb.py',
                      dseq='configs/clevr_count_dseq_vitb.py')),
    dict(name='clevr_dist', random='dseq', test=True, gpus=0,
         configs=dict(ijepa='configs/clevr_dist_ijepa_vitb.py',
                      dseq='configs/clevr_dist_dseq_vitb.py')),
]
regions = dict(method='dseq', images=[])
