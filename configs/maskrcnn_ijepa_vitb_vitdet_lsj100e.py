# Alias of configs/maskrcnn/maskrcnn-vitdet_ijepa-vitb16_lsj-100e_coco.py, kept at this old path.
_base_ = './maskrcnn/maskrcnn-vitdet_ijepa-vitb16_lsj-100e_coco.py'
