"""The leaderboard pairs two runs' images only where their records identify the same images with the
same ground truth (engine.records' ``pairing``): top-1 by image path and label, COCO AP by image id
and the ground truth file's sha256, mIoU by file name and the sha256 of each label map."""
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine import records
from engine.records import RECORDS, write_coco_ap, write_top1
from suite import leaderboard, results
from tests.suite.test_leaderboard import AVG, STAMP, avg_row, fake_run

BOX_ROW = ('ViT-B/16', 'COCO', 'AP box')
MIOU_ROW = ('ViT-B/16', 'ADE20K', 'mIoU')


def top1_run(work_dir, method, correct, images, labels):
    """A CLEVR Count run whose top-1 avg is recorded on ``images`` with ``labels``."""
    correct = np.asarray(correct, dtype=bool)
    fake_run(work_dir, STAMP, method, 'count', test={AVG: 100.0 * correct.mean()})
    write_top1(str(work_dir / STAMP / RECORDS), 'clevr_count', labels, {AVG: correct},
               {AVG: 100.0 * correct.mean()},
               images=[f'{p}#{int(y)}' for p, y in zip(images, labels)])
    return str(work_dir)


def runs_named(tmp_path, *methods):
    return [re.escape(str(tmp_path / m / STAMP)) for m in methods]


def test_top1_runs_on_other_images_with_the_same_labels_are_not_paired(tmp_path):
    labels, correct = np.arange(16) % 4, np.arange(16) < 9
    found = results.collect([
        top1_run(tmp_path / 'ijepa', 'ijepa', correct, [f'val/{i}.png' for i in range(16)], labels),
        top1_run(tmp_path / 'dseq', 'dseq', correct, [f'val/{i}b.png' for i in range(16)],
                 labels)])
    first, second = runs_named(tmp_path, 'ijepa', 'dseq')
    with pytest.warns(UserWarning, match=f'{first} and {second} were not evaluated on the same '
                                         'images'):
        assert avg_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'


def test_top1_runs_on_the_same_images_are_paired(tmp_path):
    labels, images = np.arange(16) % 4, [f'val/{i}.png' for i in range(16)]
    found = results.collect([top1_run(tmp_path / m, m, np.arange(16) < 9, images, labels)
                             for m in ('ijepa', 'dseq')])
    assert avg_row(found)['DSeq - I-JEPA'] == '+0.0 [+0.0, +0.0] within noise'
    (record,) = results.run_records(str(tmp_path / 'dseq' / STAMP)).values()
    assert record.keys.tolist() == [f'val/{i}.png#{i % 4}' for i in range(16)]


def test_records_that_predate_identities_are_not_paired_and_say_so(tmp_path):
    """Records in the form written before identities: labels as keys, no ``pairing``."""
    dirs = []
    for method in ('ijepa', 'dseq'):
        dirs.append(fake_run(tmp_path / method, STAMP, method, 'count', test={AVG: 50.0}))
        folder = tmp_path / method / STAMP / RECORDS
        folder.mkdir()
        np.savez_compressed(folder / 'clevr_count.npz', keys=np.arange(8) % 4,
                            correct0=np.arange(8) < 4)
        (folder / 'manifest.json').write_text(json.dumps(
            {AVG: dict(kind='top1', array='correct0', value=50.0, file='clevr_count.npz')}))
    found = results.collect(dirs)
    first, second = runs_named(tmp_path, 'ijepa', 'dseq')
    with pytest.warns(UserWarning, match=f'{first} and {second}: .*do not identify their images'):
        assert avg_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'


# ------------------------------------------------------------------ top-1 of ProbeAccuracy


def evaluate(metric, dataset):
    """What mmengine's loops do: hand the metric the evaluated dataset's metainfo, then evaluate."""
    metric.dataset_meta = dataset.metainfo
    return metric.evaluate(len(metric.results))


def probe_metric(labels, preds):
    from transfer.probe import ProbeAccuracy
    metric = ProbeAccuracy(prefix='accuracy')
    metric.process({}, [dict(gt=int(y), pred=dict(avg=int(p))) for y, p in zip(labels, preds)])
    return metric


@pytest.fixture
def imagenet_val(tmp_path):
    root = tmp_path / 'imagenet'
    for name in ('n01', 'n02'):
        for split in ('train', 'val'):
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                (root / split / name / f'{i}.JPEG').write_bytes(b'')
    from transfer.classification import ImageNetDataset
    return ImageNetDataset(str(root), 'val')


def test_probe_accuracy_keys_are_paths_under_the_data_root_and_labels(tmp_path, monkeypatch,
                                                                     imagenet_val):
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    evaluate(probe_metric([0, 0, 0, 1, 1, 1], [0, 1, 0, 1, 1, 0]), imagenet_val)
    (record,) = results.run_records(str(tmp_path)).values()
    assert record.keys.tolist() == [f'val/{c}/{i}.JPEG#{y}' for y, c in enumerate(('n01', 'n02'))
                                    for i in range(3)]
    assert record.identity is not None


def test_a_class_balanced_subset_names_the_images_it_keeps(imagenet_val):
    from transfer.classification import ClassBalancedSubset
    subset = ClassBalancedSubset(imagenet_val, 0.5, seed=0)
    every = imagenet_val.metainfo['images']
    assert subset.metainfo['images'] == tuple(every[i] for i in subset.indices)
    assert 0 < len(subset.metainfo['images']) == len(subset) < len(every)


def test_probe_accuracy_on_clevr_names_the_scenes_images(tmp_path, monkeypatch):
    from transfer.clevr import ClevrDataset
    base = tmp_path / 'clevr' / 'CLEVR_v1.0'
    (base / 'images' / 'val').mkdir(parents=True)
    (base / 'scenes').mkdir()
    scenes = [dict(image_filename=f'CLEVR_val_{i:06d}.png', objects=[{}] * (3 + i % 2))
              for i in range(4)]
    (base / 'scenes' / 'CLEVR_val_scenes.json').write_text(json.dumps(dict(scenes=scenes)))
    clevr = ClevrDataset(str(tmp_path / 'clevr'), 'count', 'test')
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    evaluate(probe_metric(clevr.labels, [0, 0, 0, 0]), clevr)
    (record,) = results.run_records(str(tmp_path)).values()
    # CLEVR's dataset has no data root: its images are named as in the scene file
    assert record.keys.tolist() == [f'CLEVR_val_{i:06d}.png#{i % 2}' for i in range(4)]


def test_probe_accuracy_without_image_names_records_no_identity(tmp_path, monkeypatch):
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    with pytest.warns(UserWarning, match='names no images'):
        evaluate(probe_metric([0, 1, 1], [0, 1, 0]), SimpleNamespace(metainfo={}))
    (record,) = results.run_records(str(tmp_path)).values()
    assert record.identity is None and record.keys.tolist() == [0, 1, 1]


def test_probe_accuracy_of_results_out_of_dataset_order_records_no_identity(tmp_path, monkeypatch,
                                                                           imagenet_val):
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    with pytest.warns(UserWarning, match='do not follow the 6 images'):  # a shuffled evaluation
        evaluate(probe_metric([1, 0, 0, 1, 0, 1], [0, 1, 0, 1, 1, 0]), imagenet_val)
    (record,) = results.run_records(str(tmp_path)).values()
    assert record.identity is None


# ------------------------------------------------------------------ COCO AP


def coco_gt(shift=0.0):
    """A COCO ground truth of 4 images, one box each (moved right by ``shift``)."""
    ids = (1, 2, 3, 4)
    return dict(images=[dict(id=i, width=64, height=64, file_name=f'{i}.jpg') for i in ids],
                annotations=[dict(id=i, image_id=i, category_id=1, bbox=[8 + shift, 8, 20, 20],
                                  area=400, iscrowd=0) for i in ids],
                categories=[dict(id=1, name='thing')])


def coco_run(work_dir, method, gt_file, seed=0):
    """A COCO run whose AP box is recorded against ``gt_file``: the ground-truth boxes detected,
    some with a lower score."""
    fake_run(work_dir, STAMP, method, 'coco', seed=seed,
             val=[{'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.5}])
    folder = work_dir / STAMP / RECORDS
    folder.mkdir()
    dets = [dict(image_id=i, category_id=1, bbox=[8, 8, 20, 20], score=0.9 - 0.1 * i)
            for i in (1, 2, 3)]
    (folder / 'coco.bbox.json').write_text(json.dumps(dets))
    write_coco_ap(str(folder), 'coco', [1, 2, 3, 4], [1], {'coco/bbox_mAP': dict(
        results='coco.bbox.json', ann_file=str(gt_file), iou_type='bbox', max_dets=100,
        value=0.5)})
    return str(work_dir)


def box_row(found):
    header, body = leaderboard.rows(found.table, found.records)
    (row,) = [dict(zip(header, r)) for r in body if tuple(r[:3]) == BOX_ROW]
    return row


def test_coco_records_against_other_ground_truth_are_not_paired(tmp_path):
    (tmp_path / 'a.json').write_text(json.dumps(coco_gt()))
    (tmp_path / 'b.json').write_text(json.dumps(coco_gt(shift=30)))  # same ids, other boxes
    found = results.collect([coco_run(tmp_path / 'ijepa', 'ijepa', tmp_path / 'a.json'),
                             coco_run(tmp_path / 'dseq', 'dseq', tmp_path / 'b.json')])
    first, second = runs_named(tmp_path, 'ijepa', 'dseq')
    with pytest.warns(UserWarning, match=f'{first} and {second} were not evaluated on the same '
                                         'images'):
        assert box_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'


def test_coco_records_against_the_same_ground_truth_in_two_places_are_paired(tmp_path):
    for name in ('a.json', 'copy.json'):
        (tmp_path / name).write_text(json.dumps(coco_gt()))
    found = results.collect([coco_run(tmp_path / 'ijepa', 'ijepa', tmp_path / 'a.json'),
                             coco_run(tmp_path / 'dseq', 'dseq', tmp_path / 'copy.json')])
    assert box_row(found)['DSeq - I-JEPA'] == '+0.0 [+0.0, +0.0] within noise'


def test_a_changed_ground_truth_gives_no_interval_with_a_warning_naming_it(tmp_path):
    gt = tmp_path / 'a.json'
    gt.write_text(json.dumps(coco_gt()))
    found = results.collect([coco_run(tmp_path / m, m, gt) for m in ('ijepa', 'dseq')])
    gt.write_text(json.dumps(coco_gt(shift=1)))  # edited after the evaluations
    with pytest.warns(UserWarning, match=re.escape(str(gt)) + '.*sha256'):
        assert box_row(found)['DSeq - I-JEPA'] == '+0.0 [missing]'


# ------------------------------------------------------------------ mIoU


def ade_run(work_dir, method, labels, monkeypatch):
    """An ADE20K run whose mIoU is recorded by IoUMetricWithRecords on images 0..3.png with
    ground-truth maps ``labels`` and predictions equal to the first map."""
    from transfer.ade import IoUMetricWithRecords
    folder = work_dir / STAMP / RECORDS
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(folder))
    metric = IoUMetricWithRecords(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=['a', 'b', 'c'])
    metric.process({}, [dict(img_path=f'images/validation/{i}.png',
                             pred_sem_seg=dict(data=torch.from_numpy(labels[0])[None]),
                             gt_sem_seg=dict(data=torch.from_numpy(label)[None]))
                        for i, label in enumerate(labels)])
    value = metric.evaluate(len(labels))['mIoU']
    fake_run(work_dir, STAMP, method, 'ade', val=[{'mIoU': value}])
    return str(work_dir)


def miou_row(found):
    header, body = leaderboard.rows(found.table, found.records)
    (row,) = [dict(zip(header, r)) for r in body if tuple(r[:3]) == MIOU_ROW]
    return row


def test_miou_records_pair_on_names_and_label_maps(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    labels = [rng.integers(0, 3, (6, 5)) for _ in range(4)]
    other = [label.copy() for label in labels]
    other[2][0, 0] = (other[2][0, 0] + 1) % 3  # one pixel of one map relabelled
    same = results.collect([ade_run(tmp_path / 'same' / m, m, labels, monkeypatch)
                            for m in ('ijepa', 'dseq')])
    assert miou_row(same)['DSeq - I-JEPA'] == '+0.0 [+0.0, +0.0] within noise'
    (record,) = results.run_records(str(tmp_path / 'same' / 'dseq' / STAMP)).values()
    assert [k.split('#')[0] for k in record.keys.tolist()] == [f'{i}.png' for i in range(4)]
    found = results.collect([ade_run(tmp_path / 'ijepa', 'ijepa', labels, monkeypatch),
                             ade_run(tmp_path / 'dseq', 'dseq', other, monkeypatch)])
    first, second = runs_named(tmp_path, 'ijepa', 'dseq')
    with pytest.warns(UserWarning, match=f'{first} and {second} were not evaluated on the same '
                                         'images'):
        assert miou_row(found)['DSeq - I-JEPA'].endswith('[missing]')
