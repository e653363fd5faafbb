"""COCO instances read from the standard layout, with errors that say what is expected, and mmdet's
COCO metric with per-image records."""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Union

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation import CocoMetric
from mmdet.registry import DATASETS, METRICS

from engine.files import DataLayout, load_json
from engine import records

__all__ = ['CocoInstanceDataset', 'CocoMetricWithRecords', 'CheckedCOCO', 'COCO_LAYOUT',
           'INSTANCE_KEYS']

_COCO_TREE = """\
  annotations/instances_train2017.json
  annotations/instances_val2017.json
  train2017/<image files>
  val2017/<image files>"""
#: COCO 2017's layout, for the errors of missing files
COCO_LAYOUT = DataLayout('COCO', _COCO_TREE, 'COCO_ROOT',
                         'the folder holding annotations/, train2017/ and val2017/', 'coco')
#: The top-level keys of a COCO instances file.
INSTANCE_KEYS = ('images', 'annotations', 'categories')


class CheckedCOCO(COCO):
    """mmdet's COCO API that reads its file with :func:`engine.files.load_json` (invalid JSON is
    reported with the file's name) and refuses a file without the keys of the instances layout,
    which pycocotools would index as a dataset without ground truth."""

    def __init__(self, annotation_file: str) -> None:
        super().__init__()  # an empty index: the file is read here, where its errors can name it
        self.dataset = load_json(annotation_file)
        _check_instances_layout(self.dataset, annotation_file)
        self.createIndex()
        self.img_ann_map, self.cat_img_map = self.imgToAnns, self.catToImgs  # mmdet's aliases


def _check_instances_layout(doc: object, path: str) -> None:
    """Raise ``ValueError`` naming ``path`` unless ``doc`` holds every :data:`INSTANCE_KEYS`."""
    if not isinstance(doc, dict):
        raise ValueError(f'COCO annotation file {path} holds a JSON {type(doc).__name__}; an '
                         f'instances file is an object with {list(INSTANCE_KEYS)}')
    missing = [k for k in INSTANCE_KEYS if k not in doc]
    if missing:
        raise ValueError(f'COCO annotation file {path} lacks {missing}: its keys are '
                         f'{sorted(doc)}; an instances file has {list(INSTANCE_KEYS)}')


def _box_dropped_by_mmdet(ann: dict, img: dict) -> bool:
    """Whether mmdet's ``CocoDataset.parse_data_info`` drops ``ann`` for its geometry: a box under
    1 px wide or high, an area <= 0, or no overlap with the image (``img``: width and height)."""
    x, y, w, h = ann['bbox']
    overlap_w = min(x + w, img['width']) - max(x, 0)
    overlap_h = min(y + h, img['height']) - max(y, 0)
    return w < 1 or h < 1 or ann['area'] <= 0 or overlap_w <= 0 or overlap_h <= 0


@DATASETS.register_module()
class CocoInstanceDataset(CocoDataset):
    """mmdet's ``CocoDataset`` that checks the files it needs before reading them, refuses an
    annotation file without ``images``, ``annotations`` or ``categories`` (:class:`CheckedCOCO`),
    and warns, once per annotation file, about the boxes mmdet drops as degenerate (real COCO has a
    few), with their count and an example."""

    COCOAPI = CheckedCOCO

    def __init__(self, *args, root_env: Optional[str] = None, **kwargs) -> None:
        # a config that reads its data_root from another variable (the synthetic smoke configs'
        # SYNTH_COCO_ROOT) names it, so that a missing file's error names the variable it read
        self.root_env = root_env
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img', '')  # already joined with data_root
        for path, what in ((self.ann_file, 'annotation file'), (img_dir, 'image folder')):
            if not osp.exists(path):
                raise COCO_LAYOUT.missing(what, path, self.data_root, self.root_env)
        self._degenerate: List[tuple] = []  # (annotation, image) of each box mmdet drops
        data_list = super().load_data_list()
        self._warn_degenerate()
        del self._degenerate  # as mmdet deletes its index: the dataset is copied to every worker
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        img = raw_data_info['raw_img_info']
        # the boxes mmdet drops for their geometry; ignored ones and unused classes are meant to go
        self._degenerate += [
            (ann, img) for ann in raw_data_info['raw_ann_info']
            if _box_dropped_by_mmdet(ann, img) and not ann.get('ignore', False)
            and ann['category_id'] in self.cat_ids]
        return super().parse_data_info(raw_data_info)

    def _warn_degenerate(self) -> None:
        if not self._degenerate:
            return
        ann, img = self._degenerate[0]
        warnings.warn(
            f'{self.ann_file}: {len(self._degenerate)} annotation(s) have degenerate boxes, which '
            'mmdet leaves out of the ground truth it trains on (under 1 px wide or high, area '
            f'<= 0, or outside the image); e.g. annotation id {ann["id"]} of image '
            f'{img["file_name"]}: bbox {ann["bbox"]}, area {ann["area"]}', stacklevel=2)


@METRICS.register_module()
class CocoMetricWithRecords(CocoMetric):
    """mmdet's ``CocoMetric`` that, in a runner, writes its detections (COCO's results format,
    through mmdet's ``outfile_prefix``: ``<prefix>.bbox.json``, ``<prefix>.segm.json``) into the
    run's records folder and records each ``<prefix>/<bbox|segm>_mAP`` it logs with the ground
    truth it was evaluated against (:func:`engine.records.write_coco_ap`, which records the sha256
    of its bytes beside the image ids that pair the images), so that AP can be re-accumulated on
    any resample of the images and compared image by image only with runs on the same ground
    truth. In a runner the detections go to the records folder whatever ``outfile_prefix`` says;
    outside one the metric is mmdet's."""

    def __init__(self, ann_file: Optional[str] = None, **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)
        self.ann_file = ann_file

    def compute_metrics(self, results: list) -> Dict[str, float]:
        folder = records.current_records_dir()
        if folder is None:
            return super().compute_metrics(results)
        configured, self.outfile_prefix = self.outfile_prefix, osp.join(folder, self.prefix)
        try:
            metrics = super().compute_metrics(results)
        finally:
            self.outfile_prefix = configured
        self._write_records(folder, metrics)
        return metrics

    def _write_records(self, folder: str, metrics: Dict[str, float]) -> None:
        """Record the logged mAP of each box and mask evaluation whose detections were written."""
        # without ann_file, mmdet wrote the ground truth it converted next to the detections
        ann_file = osp.abspath(self.ann_file or osp.join(folder, f'{self.prefix}.gt.json'))
        # the logged mAP is COCOeval's stats[0], AP at its third maxDets: mmdet's proposal_nums[2]
        entries = {records.logged_key(self.prefix, f'{t}_mAP'): dict(
            results=f'{self.prefix}.{t}.json', ann_file=ann_file, iou_type=t,
            max_dets=self.proposal_nums[2], value=metrics[f'{t}_mAP'])
            for t in ('bbox', 'segm') if t in self.metrics and f'{t}_mAP' in metrics}
        if entries:
            records.write_coco_ap(folder, self.prefix, self.img_ids, self.cat_ids, entries)
