# Alias of configs/knn/knn_ijepa-vitb16_bank10_in1k.py, kept at this old path.
_base_ = './knn/knn_ijepa-vitb16_bank10_in1k.py'
