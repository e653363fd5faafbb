"""The synthetic COCO generator: deterministic, and its annotations match its pixels."""
import filecmp
import json
import os

import numpy as np
from PIL import Image
from pycocotools.coco import COCO
from pycocotools import mask as mask_utils

from synthetic import COCO_CLASSES, make_coco
from synthetic.shapes import _COLOURS


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        make_coco(str(tmp_path / name), num_train=3, num_val=2, seed=seed)
    for rel in ('annotations/instances_train2017.json', 'val2017/000000000004.jpg'):
        assert filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'b' / rel, shallow=False)
        assert not filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'c' / rel, shallow=False)


def test_layout_and_annotations_are_valid_coco(synthetic_coco):
    assert sorted(os.listdir(synthetic_coco)) == ['annotations', 'train2017', 'val2017']
    for split, count in (('train', 16), ('val', 8)):
        coco = COCO(os.path.join(synthetic_coco, 'annotations', f'instances_{split}2017.json'))
        assert len(coco.imgs) == count and len(coco.anns) > count
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(COCO_CLASSES)
        kinds = set()
        for img in coco.imgs.values():
            with Image.open(os.path.join(synthetic_coco, f'{split}2017', img['file_name'])) as im:
                assert im.size == (img['width'], img['height'])
                pixels = np.asarray(im.convert('RGB'), dtype=np.float64)
            union = np.zeros((img['height'], img['width']), dtype=np.int64)
            for ann in coco.imgToAnns[img['id']]:
                mask = coco.annToMask(ann)
                union += mask
                assert mask.sum() == ann['area'] > 0 and ann['iscrowd'] == 0
                rle = mask_utils.encode(np.asfortranarray(mask))
                assert np.allclose(mask_utils.toBbox(rle), ann['bbox'], atol=0.01)
                kinds.add(type(ann['segmentation']).__name__)
                # the pixels under the mask have the colour of the annotated class, not another's
                mean = pixels[mask.astype(bool)].mean(0)
                nearest = np.linalg.norm(_COLOURS - mean, axis=1).argmin()
                assert nearest == ann['category_id'] - 1, (img['file_name'], ann['id'])
            assert union.max() <= 1, 'instances overlap'
        assert kinds == {'list', 'dict'}  # polygons and RLE


def test_json_is_plain_coco(synthetic_coco):
    with open(os.path.join(synthetic_coco, 'annotations', 'instances_val2017.json')) as f:
        doc = json.load(f)
    assert set(doc) == {'info', 'licenses', 'images', 'annotations', 'categories'}
    assert set(doc['annotations'][0]) == {'id', 'image_id', 'category_id', 'segmentation', 'area',
                                          'bbox', 'iscrowd'}
