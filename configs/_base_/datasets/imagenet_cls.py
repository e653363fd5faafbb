# ImageNet-1k (SPEC section 4b): <root>/{train,val}/<wnid>/<image>, the root from IMAGENET_ROOT
# (default data/imagenet); tested on the 50,000 val images.
_base_ = './classification_224.py'
data_root = '{{$IMAGENET_ROOT:data/imagenet}}'
num_classes = 1000
dataset = dict(type='ImageNetDataset', data_root=data_root)
train_dataloader = dict(dataset=dict(**dataset, split='train'))
test_dataloader = dict(dataset=dict(**dataset, split='val'))
