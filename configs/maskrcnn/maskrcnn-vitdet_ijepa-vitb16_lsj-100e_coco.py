# The ViTDet recipe (LSJ, ~100 epochs, layer decay 0.7, global blocks 2/5/8/11) on the I-JEPA
# ViT-B/16: the same backbone and checkpoint as maskrcnn_ijepa-vitb16_25e_coco.py.
_base_ = [
    '../_base_/models/maskrcnn_vitb_vitdet.py',
    '../_base_/datasets/coco_instance_lsj_1024.py',
    '../_base_/schedules/vitdet_adamw_lsj100e.py',
]
