# CUB-200-2011 (SPEC section 4b): the official split (5,994 train / 5,794 test), 200 classes;
# <root>/CUB_200_2011/{images.txt, image_class_labels.txt, train_test_split.txt, images/}, the root
# from CUB_ROOT (default data/cub).
_base_ = './classification_224.py'
data_root = '{{$CUB_ROOT:data/cub}}'
num_classes = 200
dataset = dict(type='CUB200Dataset', data_root=data_root)
train_dataloader = dict(dataset=dict(**dataset, split='train'))
test_dataloader = dict(dataset=dict(**dataset, split='test'))
