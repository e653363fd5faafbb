"""Bad input fails loudly and names its file: 16-bit images read as OpenCV reads them, COCO files
without annotations or with degenerate boxes, ADE20K labels outside 0..150, and undecodable images
and JSON files in pretraining, COCO, ADE20K and CLEVR."""
import json
import os
import re
import shutil
import struct
import warnings
import zlib

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from pycocotools.coco import COCO

from tests.helpers import ROOT
from engine.files import load_json, read_rgb
from pretrain import ImageFolderDataset
from synthetic import COCO_CLASSES, make_ade20k, make_clevr, make_coco
from transfer import ClevrDataset
from transfer.coco import CocoInstanceDataset  # registers the loading transforms too

ADE_BASE = os.path.join(ROOT, 'configs', '_base_', 'datasets', 'ade20k_512.py')
TRANSFER_CONFIGS = ('maskrcnn/maskrcnn_dseq-vitb16_25e_coco.py',
                    'maskrcnn/maskrcnn-vitdet_dseq-vitb16_lsj-100e_coco.py',
                    'upernet/upernet_dseq-vitb16_160k_ade20k.py',
                    'maskrcnn/maskrcnn_dseq-vittiny_2e_synthcoco.py',
                    'upernet/upernet_dseq-vittiny_40iter_synthade.py')


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def write_png16(path, samples: np.ndarray) -> str:
    """A 16-bit PNG written byte by byte (neither Pillow nor OpenCV writes grey+alpha at 16 bits);
    ``samples`` is (h, w) grey or (h, w, c) with c = 2 (grey+alpha), 3 (RGB) or 4 (RGBA)."""
    h, w = samples.shape[:2]
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack('>IIBBBBB', w, h, 16, colour_type, 0, 0, 0)
    rows = samples.astype('>u2').reshape(h, w * channels)
    raw = b''.join(b'\x00' + row.tobytes() for row in rows)  # filter type 0 on every row
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', header)
                + png_chunk(b'IDAT', zlib.compress(raw)) + png_chunk(b'IEND', b''))
    return str(path)


def samples16(shape, seed=0) -> np.ndarray:
    """Random 16-bit samples that include the edges of each 8-bit step (0, 255, 256, 65535)."""
    values = np.random.default_rng(seed).integers(0, 65536, shape).astype(np.uint16)
    values.flat[:4] = (0, 255, 256, 65535)
    return values


def opencv_rgb(path) -> np.ndarray:
    """The reference: OpenCV's 8-bit colour reading of ``path``, as RGB."""
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


def image_bytes(ext: str) -> bytes:
    """A 96x80 8-bit RGB image encoded by OpenCV."""
    y, x = np.mgrid[:80, :96]
    pixels = np.stack([x * 2, y * 3, (x + y) % 256], -1).astype(np.uint8)
    return cv2.imencode(ext, pixels)[1].tobytes()


def first_half(data: bytes) -> bytes:
    return data[:len(data) // 2]


#: file contents no decoder may accept: empty, cut in half (as by an interrupted copy), not an image
BROKEN = {'empty.png': b'', 'truncated.jpg': first_half(image_bytes('.jpg')),
          'truncated.png': first_half(image_bytes('.png')), 'not_an_image.jpg': b'not an image'}


# Case 4: 16-bit PNGs ---------------------------------------------------------------------------

@pytest.mark.parametrize('channels', [1, 2, 3, 4], ids=['grey', 'grey_alpha', 'rgb', 'rgba'])
def test_16bit_png_reads_exactly_as_opencv_reads_it(tmp_path, channels):
    shape = (6, 7) if channels == 1 else (6, 7, channels)
    path = write_png16(tmp_path / 'x.png', samples16(shape))
    assert np.array_equal(np.asarray(read_rgb(path)), opencv_rgb(path))


def test_16bit_grey_tiff_reads_exactly_as_opencv_reads_it(tmp_path):
    path = str(tmp_path / 'x.tif')
    cv2.imwrite(path, samples16((6, 7)))
    assert np.array_equal(np.asarray(read_rgb(path)), opencv_rgb(path))


@pytest.mark.parametrize('mode, ext', [('RGB', '.jpg'), ('L', '.jpg'), ('RGB', '.png'),
                                       ('L', '.png'), ('LA', '.png'), ('RGBA', '.png'),
                                       ('P', '.png')])
def test_8bit_images_decode_as_pillow_converts_them(tmp_path, mode, ext):
    path = str(tmp_path / f'x{ext}')
    rgba = np.random.default_rng(0).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba if 'A' in mode else rgba[..., :3]).convert(mode).save(path)
    with Image.open(path) as img:
        expected = np.asarray(img.convert('RGB'))
    assert np.array_equal(np.asarray(read_rgb(path)), expected)


def test_32bit_grey_beyond_16_bits_is_refused_with_its_name(tmp_path):
    path = str(tmp_path / 'wide.tif')
    Image.fromarray(np.array([[0, 70000]], dtype=np.int32)).save(path)
    with pytest.raises(OSError, match=re.escape(path) + '.*0..70000; expected 16-bit values'):
        read_rgb(path)


def test_16bit_grey_png_trains_as_opencv_reads_it_in_pretraining_and_clevr(tmp_path):
    grey16 = samples16((40, 48))
    for tree in ('wide', 'reference'):
        os.makedirs(tmp_path / tree / 'a')
    write_png16(tmp_path / 'wide' / 'a' / '0.png', grey16)
    Image.fromarray(opencv_rgb(tmp_path / 'wide' / 'a' / '0.png').copy()).save(
        tmp_path / 'reference' / 'a' / '0.png')
    wide, reference = (ImageFolderDataset(str(tmp_path / t), split='', crop_size=32)[(0, 3)]['img']
                       for t in ('wide', 'reference'))
    assert torch.equal(wide, reference) and wide.float().std() > 0

    make_clevr(str(tmp_path / 'clevr_wide'), num_train=1, num_val=1)
    shutil.copytree(tmp_path / 'clevr_wide', tmp_path / 'clevr_reference')
    name = os.path.join('CLEVR_v1.0', 'images', 'val', 'CLEVR_val_000000.png')
    write_png16(tmp_path / 'clevr_wide' / name, grey16)
    shutil.copy(tmp_path / 'reference' / 'a' / '0.png', tmp_path / 'clevr_reference' / name)
    wide, reference = (ClevrDataset(str(tmp_path / t), 'count', 'test', img_size=32)[0]['inputs']
                       for t in ('clevr_wide', 'clevr_reference'))
    assert torch.equal(wide, reference) and wide.float().std() > 0


# Case 6 (a): COCO annotation files without annotations, or not JSON ----------------------------

@pytest.fixture
def coco(tmp_path) -> str:
    root = str(tmp_path / 'coco')
    make_coco(root, num_train=3, num_val=1, seed=0)
    return root


def coco_dataset(root: str, split: str = 'train') -> CocoInstanceDataset:
    return CocoInstanceDataset(data_root=root, ann_file=f'annotations/instances_{split}2017.json',
                               data_prefix=dict(img=f'{split}2017/'), pipeline=[],
                               metainfo=dict(classes=COCO_CLASSES))


def rewrite_json(path: str, edit) -> None:
    doc = load_json(path)
    edit(doc)
    with open(path, 'w') as f:
        json.dump(doc, f)


def test_coco_file_without_annotations_is_refused_with_its_name_and_keys(coco):
    path = os.path.join(coco, 'annotations', 'instances_train2017.json')
    rewrite_json(path, lambda doc: doc.pop('annotations'))
    from mmdet.datasets import CocoDataset  # the reference: mmdet reads it as unannotated images
    plain = CocoDataset(data_root=coco, ann_file='annotations/instances_train2017.json',
                        data_prefix=dict(img='train2017/'), pipeline=[], test_mode=True)
    assert len(plain) == 3 and all(not plain.get_data_info(i)['instances'] for i in range(3))
    keys = ['categories', 'images', 'info', 'licenses']
    with pytest.raises(ValueError, match=re.escape(f"{path} lacks ['annotations']: its keys are "
                                                   f"{keys}")):
        coco_dataset(coco)


def test_coco_file_that_is_not_json_is_refused_with_its_name(coco):
    path = os.path.join(coco, 'annotations', 'instances_train2017.json')
    with open(path, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(ValueError, match=re.escape(path) + ' is not valid JSON: .*line 1'):
        coco_dataset(coco)


# Case 6 (b): degenerate COCO boxes --------------------------------------------------------------

def test_degenerate_boxes_are_counted_and_named_once_per_file_as_mmdet_drops_them(coco):
    path = os.path.join(coco, 'annotations', 'instances_train2017.json')

    def degrade(doc):  # bbox is [x, y, w, h]
        anns = doc['annotations']
        anns[0]['bbox'][2] = -5.0       # negative width
        anns[1]['bbox'][3] = 0.0        # zero height
        anns[2]['area'] = 0.0           # zero area
        anns[3]['bbox'][2] = 0.5        # under a pixel wide
        anns[4]['bbox'][0] = 10000.0    # outside the image

    rewrite_json(path, degrade)
    first = load_json(path)['annotations'][0]
    file_name = COCO(path).imgs[first['image_id']]['file_name']
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        train, val = coco_dataset(coco), coco_dataset(coco, 'val')
    messages = [str(w.message) for w in caught if 'degenerate' in str(w.message)]
    # the reference: what pycocotools indexes minus the instances mmdet's parse_data_info keeps
    kept = sum(len(train.get_data_info(i)['instances']) for i in range(len(train)))
    dropped = len(COCO(path).anns) - kept
    assert dropped == 5 and len(messages) == 1  # and none for the untouched val file
    assert messages[0].startswith(f'{path}: {dropped} annotation(s) have degenerate boxes')
    assert f'annotation id {first["id"]} of image {file_name}: bbox {first["bbox"]}' in messages[0]
    assert len(val) == 1


# Case 6 (c): ADE20K labels outside 0..150 -------------------------------------------------------

@pytest.fixture(scope='module')
def ade(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('ade'))
    make_ade20k(root, num_train=2, num_val=1, seed=0)
    return root


def ade_annotation(ade: str) -> str:
    return os.path.join(ade, 'annotations', 'training', 'ADE_train_00000001.png')


def load_ade_annotation(path: str) -> dict:
    """The ADE20K base config's train-pipeline annotation loader, applied to ``path`` (built in
    mmseg's scope, whatever scope a runner of an earlier test left current)."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import TRANSFORMS
    (step,) = [t for t in Config.fromfile(ADE_BASE).train_pipeline if 'Annotations' in t['type']]
    with DefaultScope.overwrite_default_scope('mmseg'):
        loader = TRANSFORMS.build(step)
    return loader(dict(seg_map_path=path, reduce_zero_label=True, seg_fields=[]))


def test_ade_labels_load_as_mmseg_loads_them(ade):
    from mmseg.datasets.transforms import LoadAnnotations
    path = ade_annotation(ade)
    reference = LoadAnnotations(reduce_zero_label=True)(
        dict(seg_map_path=path, reduce_zero_label=True, seg_fields=[]))
    assert np.array_equal(load_ade_annotation(path)['gt_seg_map'], reference['gt_seg_map'])


@pytest.mark.parametrize('bad, dtype', [(199, np.uint8), (255, np.uint8), (300, np.uint16)])
def test_ade_labels_outside_0_to_150_are_refused_as_stored(ade, tmp_path, bad, dtype):
    with Image.open(ade_annotation(ade)) as im:
        labels = np.asarray(im).astype(dtype)
    labels[5:9, 5:9] = bad
    path = str(tmp_path / 'labels.png')
    Image.fromarray(labels).save(path)  # uint16: a 16-bit PNG, which mmseg's uint8 cast wraps
    with pytest.raises(ValueError, match=re.escape(f'{path} holds values [{bad}] outside the '
                                                   'allowed range 0..150')):
        load_ade_annotation(path)


# Case 6 (d): undecodable images and JSON --------------------------------------------------------

@pytest.mark.parametrize('name', BROKEN)
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_broken_coco_and_ade_images_are_refused_with_their_name(tmp_path, scope, name):
    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    transforms = __import__(f'{scope}.registry', fromlist=['TRANSFORMS']).TRANSFORMS
    load = transforms.build(dict(type='LoadImageFromFileChecked'))
    with pytest.raises(OSError, match=f'unreadable image {re.escape(str(path))}: '):
        load(dict(img_path=str(path)))


@pytest.mark.parametrize('name', [n for n in BROKEN if n.endswith('.png')])
def test_broken_ade_annotation_is_refused_with_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    with pytest.raises(OSError, match=f'unreadable image {re.escape(str(path))}: '):
        load_ade_annotation(str(path))


@pytest.mark.parametrize('name', BROKEN)
def test_broken_clevr_image_is_refused_with_its_name(tmp_path, name):
    make_clevr(str(tmp_path), num_train=1, num_val=1)
    path = tmp_path / 'CLEVR_v1.0' / 'images' / 'val' / 'CLEVR_val_000000.png'
    path.write_bytes(BROKEN[name])
    with pytest.raises(OSError, match=f'unreadable image {re.escape(str(path))}: '):
        ClevrDataset(str(tmp_path), 'count', 'test', img_size=32)[0]


def test_clevr_scene_file_that_is_not_json_is_refused_with_its_name(tmp_path):
    make_clevr(str(tmp_path), num_train=1, num_val=1)
    path = tmp_path / 'CLEVR_v1.0' / 'scenes' / 'CLEVR_val_scenes.json'
    path.write_text('{"scenes": [}')
    with pytest.raises(ValueError, match=re.escape(str(path)) + ' is not valid JSON: '):
        ClevrDataset(str(tmp_path), 'count', 'test')


@pytest.mark.parametrize('name', BROKEN)
def test_broken_pretraining_images_are_skipped_with_their_name(tmp_path, name):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / name).write_bytes(BROKEN[name])
    (tmp_path / 'a' / 'z_good.png').write_bytes(image_bytes('.png'))
    ds = ImageFolderDataset(str(tmp_path), split='', crop_size=16)
    with pytest.warns(UserWarning, match=f'skipping unreadable image {tmp_path / "a" / name}: '):
        sample = ds[0]
    assert sample['skipped'] == [str(tmp_path / 'a' / name)]


@pytest.mark.parametrize('config', TRANSFER_CONFIGS)
def test_transfer_configs_load_with_the_checked_transforms(config):
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', config))
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        steps = [t['type'] for t in loader.dataset.pipeline]
        assert 'LoadImageFromFileChecked' in steps and 'LoadImageFromFile' not in steps
        if 'upernet' in config:
            (labels,) = [t for t in loader.dataset.pipeline if 'Annotations' in t['type']]
            assert (labels['type'], labels['max_label']) == ('LoadSegAnnotationsChecked', 150)
