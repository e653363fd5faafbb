# Linear probe on the frozen pretrained target encoder, ViT-B/16 at 224 (SPEC section 4): one linear
# layer per readout, trained side by side on features encoded once (transfer/probe.py).
custom_imports = dict(imports=['backbones', 'engine.checkpoint', 'transfer'],
                      allow_failed_imports=False)

model = dict(
    type='LinearProbe',
    backbone=dict(
        type='JEPAViT',
        arch='b',
        img_size=224,
        patch_size=16,
        use_cls_token=False,
        window_size=0,
        drop_path_rate=0.0,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/ijepa_vitb16_in1k.pth',
                      encoder='target')),
    num_classes=None,  # set by the task's config
    readouts=('avg',))
