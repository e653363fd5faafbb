# Alias of configs/knn/knn_ijepa-vitb16_inat21.py, kept at this old path.
_base_ = './knn/knn_ijepa-vitb16_inat21.py'
