# Stanford Cars (SPEC section 4b): the devkit split (8,144 train / 8,041 test), 196 classes; the
# layout torchvision's StanfordCars reads, <root>/stanford_cars/{devkit/, cars_train/, cars_test/,
# cars_test_annos_withlabels.mat}, the root from CARS_ROOT (default data/cars).
_base_ = './classification_224.py'
data_root = '{{$CARS_ROOT:data/cars}}'
num_classes = 196
dataset = dict(type='StanfordCarsDataset', data_root=data_root)
train_dataloader = dict(dataset=dict(**dataset, split='train'))
test_dataloader = dict(dataset=dict(**dataset, split='test'))
