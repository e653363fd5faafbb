# Alias of configs/maskrcnn/maskrcnn_ijepa-vitb16_25e_coco.py, kept at this old path.
_base_ = './maskrcnn/maskrcnn_ijepa-vitb16_25e_coco.py'
