"""The COCO Mask R-CNN path: paper configs, the layout error, and real training on synthetic
COCO."""
import glob
import math
import os
import warnings

import numpy as np
import pytest
from mmengine.config import Config

from tests.helpers import ROOT, config_differences, logged_scalars, metrics_of_test_run, run_tool
from suite.results import run_records
from suite.results import collect

DSEQ = os.path.join(ROOT, 'configs', 'maskrcnn', 'maskrcnn_dseq-vitb16_25e_coco.py')
SMOKE = os.path.join(ROOT, 'configs', 'maskrcnn', 'maskrcnn_dseq-vittiny_2e_synthcoco.py')


@pytest.mark.parametrize('recipe', ['maskrcnn_{}-vitb16_25e_coco.py',
                                    'maskrcnn-vitdet_{}-vitb16_lsj-100e_coco.py'])
def test_the_two_methods_differ_only_in_checkpoint_and_cls(recipe):
    dseq, ijepa = (os.path.join(ROOT, 'configs', 'maskrcnn', recipe.format(m))
                   for m in ('dseq', 'ijepa'))
    assert config_differences(dseq, ijepa) == {'pretrain_method', 'model.backbone.use_cls_token',
                                               'model.backbone.init_cfg.checkpoint'}
    assert Config.fromfile(dseq).model.backbone.use_cls_token
    assert not Config.fromfile(ijepa).model.backbone.use_cls_token


def test_paper_recipe():
    cfg = Config.fromfile(DSEQ)
    bb = cfg.model.backbone
    assert (bb.arch, bb.patch_size, tuple(bb.out_indices)) == ('b', 16, (3, 5, 7, 11))
    assert (bb.window_size, bb.drop_path_rate, bb.init_cfg.encoder) == (14, 0.1, 'target')
    assert cfg.model.neck.scale_factors == (4.0, 2.0, 1.0, 0.5)
    assert cfg.train_cfg.max_epochs == 25 and cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr.base_batch_size == 16
    opt = cfg.optim_wrapper
    assert (opt.type, opt.dtype, opt.optimizer.type) == ('AmpOptimWrapper', 'bfloat16', 'AdamW')
    assert (opt.optimizer.lr, opt.optimizer.weight_decay, opt.paramwise_cfg.decay_rate) == \
        (1e-4, 0.1, 1.0)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.type, cosine.begin, cosine.end) == \
        ('LinearLR', 1, 'CosineAnnealingLR', 1, 25)
    steps = [t['type'] for t in cfg.train_pipeline]
    assert steps == ['LoadImageFromFileChecked', 'LoadAnnotations', 'Resize', 'RandomFlip',
                     'PackDetInputs']
    assert cfg.train_pipeline[2]['scale'] == (1024, 1024) and cfg.train_pipeline[2]['keep_ratio']
    assert cfg.val_evaluator.metric == ['bbox', 'segm']
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'


def test_missing_coco_says_which_layout_and_how_to_point_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv('COCO_ROOT', str(tmp_path / 'nowhere'))
    cfg = Config.fromfile(DSEQ)
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules()
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(cfg.train_dataloader.dataset)
    message = str(err.value)
    for part in (f'{tmp_path}/nowhere/annotations/instances_train2017.json', 'train2017/',
                 'annotations/instances_val2017.json', 'the COCO_ROOT environment variable',
                 'make_synthetic_data.py'):
        assert part in message


def test_ground_truth_as_predictions_scores_a_perfect_coco_map(synthetic_coco, monkeypatch,
                                                                tmp_path):
    """The smoke config's dataset, class names and evaluator agree with the synthetic json, and
    the evaluator's records (here in ``tmp_path``) reproduce its AP."""
    import numpy as np
    import torch
    from mmdet.registry import DATASETS, METRICS
    from mmdet.utils import register_all_modules
    from pycocotools.coco import COCO
    register_all_modules()
    monkeypatch.setenv('SYNTH_COCO_ROOT', synthetic_coco)
    cfg = Config.fromfile(SMOKE)
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = dataset.metainfo
    coco = COCO(cfg.val_evaluator.ann_file)  # to rasterise the annotations' polygons and RLE
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        h, w = info['height'], info['width']
        objects = [o for o in info['instances'] if not o['ignore_flag']]
        masks = [coco.annToMask(dict(segmentation=o['mask'], image_id=info['img_id']))
                 for o in objects]
        metric.process({}, [dict(img_id=info['img_id'], ori_shape=(h, w), pred_instances=dict(
            bboxes=torch.tensor([o['bbox'] for o in objects], dtype=torch.float32),
            labels=torch.tensor([o['bbox_label'] for o in objects]),
            scores=torch.ones(len(objects)),
            masks=torch.from_numpy(np.stack(masks).astype(bool))))])
    from engine import records
    monkeypatch.setattr(records, 'current_records_dir', lambda: str(tmp_path / 'records'))
    result = metric.evaluate(len(dataset))
    assert result['coco/bbox_mAP'] == 1.0 and result['coco/segm_mAP'] == 1.0
    recorded = run_records(str(tmp_path))
    assert sorted(recorded) == ['coco/bbox_mAP', 'coco/segm_mAP']
    digest = records.file_sha256(cfg.val_evaluator.ann_file)  # pairs with the image ids
    for record in recorded.values():
        assert record.keys.tolist() == sorted(coco.getImgIds()) == sorted(dataset.get_data_info(
            i)['img_id'] for i in range(len(dataset)))
        assert record.identity == f'coco_ap image_id sha256:{digest}'
        assert record.value == 1.0 == record.metric(np.ones(len(record.keys)))


@pytest.mark.slow
def test_train_evaluate_resume_and_test_on_synthetic_coco(synthetic_coco, tmp_path):
    env = dict(os.environ, SYNTH_COCO_ROOT=synthetic_coco)
    work = str(tmp_path / 'work')
    run_tool('train.py', SMOKE, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=1',
             env=env)
    first = logged_scalars(work)
    losses = [r['loss'] for r in first if 'loss' in r]
    assert losses and all(math.isfinite(v) for v in losses)
    assert len([r for r in first if 'coco/segm_mAP' in r]) == 1  # validated after the epoch
    last_iter = max(r['iter'] for r in first if 'loss' in r)

    out = run_tool('train.py', SMOKE, '--work-dir', work, '--resume',
               '--cfg-options', 'train_cfg.max_epochs=2', env=env)
    assert 'resumed epoch: 1' in out
    resumed = [r for r in logged_scalars(work)[len(first):] if 'loss' in r]
    assert resumed and min(r['iter'] for r in resumed) > last_iter
    assert os.path.exists(os.path.join(work, 'epoch_2.pth'))

    run_tool('test.py', SMOKE, os.path.join(work, 'epoch_2.pth'), '--work-dir',
             str(tmp_path / 'test'), env=env)
    tested = metrics_of_test_run(str(tmp_path / 'test'))
    # the test split is the val split: testing epoch 2 repeats its validation exactly
    validated = [r for r in logged_scalars(work) if 'coco/bbox_mAP' in r][-1]
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        assert tested[key] == validated[key], key
    # the test's per-image records, in its run's folder: COCOeval (as mmdet runs it) on the
    # detections they hold gives AP re-accumulated from them, and the logged AP
    (run,) = glob.glob(str(tmp_path / 'test' / '*' / 'vis_data'))
    recorded = run_records(os.path.dirname(run))
    for iou_type in ('bbox', 'segm'):
        record, logged = recorded[f'coco/{iou_type}_mAP'], tested[f'coco/{iou_type}_mAP']
        ap = record.metric(np.ones(len(record.keys)))
        results = os.path.join(os.path.dirname(run), 'records', f'coco.{iou_type}.json')
        gt = os.path.join(synthetic_coco, 'annotations', 'instances_val2017.json')
        assert ap == pytest.approx(mmdet_cocoeval_ap(gt, results, iou_type), abs=1e-12)
        assert record.value == logged and round(ap, 3) == logged
    # the training's last validation recorded its own
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)  # the records are the logged evaluation's
        found = collect([work])
    assert len(found.records) == 2 and all(seeds[0] is not None for row in found.records.values()
                                           for seeds in row.values())


def mmdet_cocoeval_ap(gt_file: str, results: str, iou_type: str) -> float:
    """COCOeval's AP of a results file, as mmdet's CocoMetric computes it: masks without their
    boxes, maxDets 100, 300 and 1000."""
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with open(results) as f:
        dets = json.load(f)
    if iou_type == 'segm':
        dets = [{k: v for k, v in d.items() if k != 'bbox'} for d in dets]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_file)
        coco_eval = COCOeval(gt, gt.loadRes(dets), iou_type)
        coco_eval.params.maxDets = [100, 300, 1000]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return float(coco_eval.stats[0])
