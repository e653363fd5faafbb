# iNaturalist 2021 (SPEC section 4b): trained on train_mini (500,000 images), tested on val
# (100,000), 10,000 classes; <root>/{train_mini,val}.json and the image folders they name, the root
# from INAT_ROOT (default data/inat21).
_base_ = './classification_224.py'
data_root = '{{$INAT_ROOT:data/inat21}}'
num_classes = 10000
dataset = dict(type='INat21Dataset', data_root=data_root)
train_dataloader = dict(dataset=dict(**dataset, split='train_mini'))
test_dataloader = dict(dataset=dict(**dataset, split='val'))
