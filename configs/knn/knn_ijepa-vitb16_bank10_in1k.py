# ImageNet-1k kNN against the authors' bank (SPEC section 4b): a class-balanced 10% of the training
# images (about 128,000: 10% of each class, seed 0), tested on the 50,000 val images.
_base_ = './knn_ijepa-vitb16_in1k.py'
test_cfg = dict(bank_dataloader=dict(_base_.test_dataloader, dataset=dict(
    type='ClassBalancedSubset', dataset=dict(_base_.test_dataloader.dataset, split='train'),
    fraction=0.1, seed=0)))
report = dict(task='ImageNet-1k kNN, 10% bank')
