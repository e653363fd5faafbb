# Alias of configs/knn/knn_dseq-vittiny_synthimagenet.py, kept at this old path.
_base_ = '../knn/knn_dseq-vittiny_synthimagenet.py'
