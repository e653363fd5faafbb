"""Image classification datasets read from their official on-disk layouts (SPEC section 4b).

Each dataset is an mmengine ``BaseDataset`` whose items are ``dict(img_path=..., gt_label=...)``
(labels 0-based) before its pipeline, with the class names, index = label, in
``metainfo['classes']``. What a dataset reads from disk is parsed by one function per dataset
(:func:`scan_image_folder`, :func:`parse_inat21`, :func:`parse_cub200`, :func:`parse_stanford_cars`)
that names the file, and the entry or line, of anything malformed; a missing file or folder raises
``FileNotFoundError`` naming it, the expected layout, the environment variable that points the
configs at a real copy (``root_env`` names another one, as the synthetic smoke configs read
``SYNTH_*_ROOT``) and the command that writes a small synthetic one.

A dataset agrees with itself and with the config: both iNat 2021 splits must list the same
categories (:func:`check_same_classes`; ImageNet's both splits the same class folders), an image
listed twice is kept once if both listings give it the same label and refused if not
(:func:`drop_repeats`), and a loop refuses a dataset with more classes than the config's
``model.num_classes`` before it encodes anything (:func:`check_loop_classes`, called by the cached
probe loops and the kNN test loop, and by :class:`NumClassesCheckHook` for mmengine's own loops).

:class:`ClassBalancedSubset` keeps a seeded, class-balanced fraction of a dataset (a kNN bank) or
its complement (``part='rest'``), so a training set splits into a held-out slice for choosing
hyper-parameters and the rest.

Images are not opened here: a listed image that is missing or unreadable raises, naming it, when
the pipeline's :class:`~transfer.classification_transforms.LoadRGBImage` reads it.
"""
import json
import os
import os.path as osp
import re
import warnings
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import ConfigDict
from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook
from mmengine.registry import DATASETS, HOOKS

from engine.files import IMAGE_EXTENSIONS, DataLayout, load_json
from engine.records import image_keys
from engine.model import unwrap_model

__all__ = ['ClassificationDataset', 'ImageNetDataset', 'INat21Dataset', 'CUB200Dataset',
           'StanfordCarsDataset', 'ClassBalancedSubset', 'IndexedSubset', 'class_balanced_indices',
           'scan_image_folder', 'parse_inat21', 'parse_cub200', 'parse_stanford_cars',
           'inat21_categories', 'check_same_classes', 'drop_repeats', 'dataset_num_classes',
           'describe_dataset', 'check_num_classes', 'check_loop_classes', 'NumClassesCheckHook',
           'IMAGENET_LAYOUT', 'INAT21_LAYOUT', 'CUB200_LAYOUT', 'STANFORD_CARS_LAYOUT']

IMAGENET_LAYOUT = """\
  train/<class folder, e.g. n01440764>/<image, e.g. n01440764_10026.JPEG>
  val/<class folder>/<image, e.g. ILSVRC2012_val_00000293.JPEG>   (val sorted into class folders)
  (classes = the sorted class folder names; the same folders in train and val)"""
INAT21_LAYOUT = """\
  train_mini.json, val.json   (COCO-style: images [{id, file_name}], annotations [{image_id,
                               category_id}], categories [{id 0..C-1, name}])
  train_mini/<5-digit id>_<kingdom>_<phylum>_<class>_<order>_<family>_<genus>_<species>/<uuid>.jpg
  val/<5-digit id>_<kingdom>_..._<species>/<uuid>.jpg   (the file_name of each image)"""
CUB200_LAYOUT = """\
  CUB_200_2011/images.txt              <image_id> <class folder>/<image>
  CUB_200_2011/image_class_labels.txt  <image_id> <class_id 1..200>
  CUB_200_2011/train_test_split.txt    <image_id> <1 train | 0 test>
  CUB_200_2011/classes.txt             <class_id> <class name>
  CUB_200_2011/images/<class folder, e.g. 001.Black_footed_Albatross>/<image>"""
STANFORD_CARS_LAYOUT = """\
  stanford_cars/devkit/cars_meta.mat             class_names (196)
  stanford_cars/devkit/cars_train_annos.mat      annotations: fname, class 1..196, bbox_x1, ...
  stanford_cars/cars_test_annos_withlabels.mat   annotations of the test images, with class
  stanford_cars/cars_train/<fname, e.g. 00001.jpg>
  stanford_cars/cars_test/<fname>   (torchvision.datasets.StanfordCars's layout)"""

Sample = Tuple[str, int]  # (image path, as the files give it or joined to a folder; 0-based label)


# --- parsing: one function per dataset -----------------------------------------------------------

def scan_image_folder(folder: str) -> Tuple[List[Sample], List[str]]:
    """``(path, label)`` of every image under ``folder/<class>/`` and the sorted class names, in
    the order and with the labels of ``torchvision.datasets.ImageFolder`` (class folders walked
    recursively, sorted; images by ``IMAGE_EXTENSIONS``)."""
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    samples = []
    for label, name in enumerate(classes):
        for root, _, files in sorted(os.walk(osp.join(folder, name), followlinks=True)):
            samples += [(osp.join(root, f), label) for f in sorted(files)
                        if f.lower().endswith(IMAGE_EXTENSIONS)]
    return samples, classes


def _field(entry: dict, key: str, path: str, where: str):
    """``entry[key]``, or a KeyError naming the file and the entry that lacks it."""
    if not isinstance(entry, dict) or key not in entry:
        raise KeyError(f'{path}: {where} has no "{key}" ({str(entry)[:200]})')
    return entry[key]


def _inat21_categories(doc: object, path: str) -> List[str]:
    """The category names, by id, of a parsed iNat 2021 file ``doc``, whose three lists are checked
    to be there; the ids must be 0..C-1."""
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            found = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            raise KeyError(f'{path} has no "{key}" list; expected the COCO-style iNat 2021 file '
                           f'(found: {found})')
    names = {_field(c, 'id', path, f'categories[{i}]'): _field(c, 'name', path, f'categories[{i}]')
             for i, c in enumerate(doc['categories'])}
    count = len(doc['categories'])
    if sorted(names) != list(range(count)):
        raise ValueError(f'{path}: category ids are not 0..{count - 1} (each once); found '
                         f'{len(names)} distinct ids from {min(names, default=None)} to '
                         f'{max(names, default=None)}')
    return [names[k] for k in range(count)]


def _inat21_labels(doc: dict, path: str, count: int) -> Dict[int, int]:
    """image id -> category id of the annotations of ``doc``; every image of ``images`` must have
    exactly one, and every annotation an image there."""
    labels: Dict[int, int] = {}
    counts: Counter = Counter()
    for i, ann in enumerate(doc['annotations']):
        image_id = _field(ann, 'image_id', path, f'annotations[{i}]')
        label = _field(ann, 'category_id', path, f'annotations[{i}]')
        if not isinstance(label, int) or not 0 <= label < count:
            raise ValueError(f'{path}: annotations[{i}] (image {image_id}) has category_id '
                             f'{label!r}, not one of the categories 0..{count - 1}')
        labels[image_id] = label
        counts[image_id] += 1
    for i, image in enumerate(doc['images']):
        image_id = _field(image, 'id', path, f'images[{i}]')
        if counts[image_id] != 1:
            raise ValueError(f'{path}: image {image_id} ({image.get("file_name")}) has '
                             f'{counts[image_id]} annotations; expected exactly one')
    unknown = set(counts) - {image['id'] for image in doc['images']}
    if unknown:
        raise ValueError(f'{path}: annotations name image ids {sorted(unknown)[:10]} that are not '
                         'in "images"')
    return labels


def parse_inat21(path: str) -> Tuple[List[Sample], List[str]]:
    """``(file_name, category_id)`` of every image of an iNaturalist 2021 annotation file (in its
    ``images`` order) and the category names by id. Category ids must be 0..C-1 and every image
    must have exactly one annotation; an image listed twice is kept once (:func:`drop_repeats`)."""
    doc = load_json(path)
    classes = _inat21_categories(doc, path)
    labels = _inat21_labels(doc, path, len(classes))
    listed = []
    for i, image in enumerate(doc['images']):
        file_name = _field(image, 'file_name', path, f'images[{i}]')
        listed.append((file_name, labels[image['id']], f'images[{i}] (id {image["id"]})'))
    keep = drop_repeats([(name, f'category_id {label}', where) for name, label, where in listed],
                        path)
    return [listed[i][:2] for i in keep], classes


def inat21_categories(path: str) -> List[str]:
    """The category names, by id, of an iNat 2021 annotation file, its ``categories`` list read
    alone (:func:`_categories_alone`)."""
    return _inat21_categories(_categories_alone(path), path)


def _categories_alone(path: str) -> dict:
    """An iNat 2021 file with its ``categories`` list decoded alone (``images`` and
    ``annotations`` left empty): the other split's class list is all a split needs of it, and its
    images and annotations are most of its size. The whole file is parsed where the list is not
    found so."""
    with open(path, encoding='utf-8', errors='replace') as f:
        text = f.read()
    decoder = json.JSONDecoder()
    for match in re.finditer(r'"categories"\s*:\s*(?=\[)', text):
        try:
            found, _ = decoder.raw_decode(text, match.end())
        except ValueError:
            continue
        if isinstance(found, list) and all(isinstance(c, dict) for c in found):
            return dict(images=[], annotations=[], categories=found)
    return load_json(path)


def check_same_classes(classes: Sequence[str], path: str, other_classes: Sequence[str],
                       other: str) -> None:
    """Refuse two splits whose class lists (names by label) differ, naming both files and the first
    label that differs: a label must mean the same class in every split."""
    if list(classes) == list(other_classes):
        return
    why = 'both splits must share one class list, or the same label means different classes'
    for label, (name, other_name) in enumerate(zip(classes, other_classes)):
        if name != other_name:
            raise ValueError(f'{path} and {other} list different categories: category {label} is '
                             f'{name!r} in {path} but {other_name!r} in {other}; {why}')
    shared = min(len(classes), len(other_classes))
    raise ValueError(f'{path} lists {len(classes)} categories and {other} lists '
                     f'{len(other_classes)} categories (the first {shared} agree); {why}')


def drop_repeats(entries: Sequence[Tuple[str, object, str]], path: str,
                 what: str = 'labels') -> List[int]:
    """The indices of ``entries`` (image, label, where it is listed), each image's first listing
    kept. An image listed again with the same label is dropped, with one warning naming ``path`` and
    how many listings were; with another label it is refused, naming both listings (which label
    would the image have?)."""
    first: Dict[str, int] = {}
    keep, repeats = [], []
    for i, (image, label, where) in enumerate(entries):
        j = first.setdefault(osp.normpath(image), i)
        if j == i:
            keep.append(i)
        elif entries[j][1] != label:
            raise ValueError(f'{path}: {image} is listed twice with different {what}: '
                             f'{entries[j][2]} ({entries[j][1]}) and {where} ({label}); an image '
                             'has one')
        else:
            repeats.append((i, j))
    if repeats:
        i, j = repeats[0]
        warnings.warn(f'{path}: {len(repeats)} image listing(s) repeat an earlier one with the '
                      f'same {what} and were dropped (e.g. {entries[i][0]}: {entries[i][2]}, first '
                      f'as {entries[j][2]})', stacklevel=2)
    return keep


def _read_id_table(path: str) -> Dict[int, str]:
    """The ``<int id> <value>`` lines of a CUB text file as {id: value}, in file order."""
    table: Dict[int, str] = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split(None, 1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f'{path} line {number}: expected "<id> <value>", got {line!r}')
            key = int(parts[0])
            if key in table:
                raise ValueError(f'{path} line {number}: id {key} is listed twice')
            table[key] = parts[1].strip()
    return table


def _cub_int(table: Dict[int, str], image_id: int, path: str, allowed: Sequence[int]) -> int:
    """The integer value of ``image_id`` in a CUB table, checked to be in ``allowed``."""
    if image_id not in table:
        raise ValueError(f'{path} has no line for image {image_id} of images.txt')
    value = table[image_id]
    if not value.isdigit() or int(value) not in allowed:
        raise ValueError(f'{path}: image {image_id} has {value!r}; expected one of '
                         f'{allowed[0]}..{allowed[-1]}')
    return int(value)


def parse_cub200(folder: str) -> Tuple[List[Tuple[str, int, bool]], List[str]]:
    """``(path under images/, class_id - 1, is_train)`` of every image of ``folder``
    (``CUB_200_2011``) in the order of ``images.txt``, and the class names of ``classes.txt``. A
    path listed twice is kept once (:func:`drop_repeats`; two labels or two splits are refused)."""
    files = {name: osp.join(folder, f'{name}.txt')
             for name in ('images', 'image_class_labels', 'train_test_split', 'classes')}
    classes = _read_id_table(files['classes'])
    if sorted(classes) != list(range(1, len(classes) + 1)):
        raise ValueError(f'{files["classes"]}: class ids are not 1..{len(classes)}')
    labels = _read_id_table(files['image_class_labels'])
    is_train = _read_id_table(files['train_test_split'])
    class_ids = range(1, len(classes) + 1)
    images = _read_id_table(files['images'])
    samples = [(rel_path, _cub_int(labels, image_id, files['image_class_labels'], class_ids) - 1,
                _cub_int(is_train, image_id, files['train_test_split'], (0, 1)) == 1)
               for image_id, rel_path in images.items()]
    # an image in both splits would be tested on what it trained on: refused like two labels
    keep = drop_repeats([(path, f'class {label + 1}, {"train" if train else "test"}', f'image {i}')
                         for i, (path, label, train) in zip(images, samples)],
                        files['images'], 'labels or splits')
    return [samples[i] for i in keep], [classes[k] for k in class_ids]


def _load_mat(path: str, key: str) -> np.ndarray:
    """The variable ``key`` of a MATLAB file (as ``squeeze_me=True`` loads it), at least 1-d."""
    import scipy.io  # only Stanford Cars needs scipy
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True)
    except Exception as err:  # scipy's readers raise ValueError, MatReadError, TypeError, ...
        raise ValueError(f'{path} is not a readable MATLAB file: {type(err).__name__}: '
                         f'{err}') from err
    if key not in mat:
        raise KeyError(f'{path} has no "{key}" variable (variables: '
                       f'{sorted(k for k in mat if not k.startswith("__"))})')
    return np.atleast_1d(mat[key])


def parse_stanford_cars(annotations: str, meta: str) -> Tuple[List[Sample], List[str]]:
    """``(fname, class - 1)`` of every annotation of a Stanford Cars devkit ``.mat`` file, in
    its order, and the ``class_names`` of ``cars_meta.mat``, as torchvision's StanfordCars reads
    them; an image listed twice is kept once (:func:`drop_repeats`)."""
    classes = [str(name) for name in _load_mat(meta, 'class_names').tolist()]
    table = _load_mat(annotations, 'annotations')
    missing = {'fname', 'class'} - set(table.dtype.names or ())
    if missing:
        raise KeyError(f'{annotations}: the annotations have no field {sorted(missing)} '
                       f'(fields: {table.dtype.names})')
    samples = []
    for i, entry in enumerate(table):
        label = int(entry['class'])
        if not 1 <= label <= len(classes):
            raise ValueError(f'{annotations}: annotation {i} ({entry["fname"]}) has class {label}; '
                             f'expected 1..{len(classes)} (the class_names of {meta})')
        samples.append((str(entry['fname']), label - 1))
    keep = drop_repeats([(fname, f'class {label + 1}', f'annotation {i}')
                         for i, (fname, label) in enumerate(samples)], annotations)
    return [samples[i] for i in keep], classes


# --- datasets ------------------------------------------------------------------------------------

class ClassificationDataset(BaseDataset):
    """An image classification dataset: ``img_path`` and a 0-based ``gt_label`` per sample, the
    class names in ``metainfo['classes']``.

    A subclass sets the class attributes below and implements :meth:`read_split`; the mmengine
    mechanics (pipeline, ``get_data_info``, lazy init, serialisation, ``indices``) are shared here.

    Args:
        data_root: the folder holding the dataset (see the subclass's layout).
        split: one of the subclass's ``SPLITS``, the training split first.
        pipeline: the transforms applied to each sample.
        **kwargs: the other arguments of mmengine's ``BaseDataset`` (``lazy_init``, ``indices``,
            ``test_mode``, ...).
    """

    NAME = ''  # the dataset's name in errors
    SPLITS: Tuple[str, ...] = ()  # the training split first
    LAYOUT = ''  # the expected layout under data_root
    ROOT_ENV = ''  # the environment variable the configs read the real data_root from
    ROOT_HOLDS = ''  # what data_root holds, in words
    GENERATOR = ''  # the name of the synthetic generator in tools/make_synthetic_data.py

    def __init__(self, data_root: str, split: str, pipeline: Sequence = (),
                 root_env: Optional[str] = None, **kwargs) -> None:
        if split not in self.SPLITS:
            raise KeyError(f'unknown {self.NAME} split {split!r}; choose one of {self.SPLITS}')
        self.split = split
        # a config that reads its data_root from another variable (the synthetic smoke configs'
        # SYNTH_*_ROOT) names it, so that a missing folder's error names the variable it read
        self.root_env = root_env
        self._image_keys: Optional[Tuple[str, ...]] = None
        super().__init__(data_root=data_root, pipeline=list(pipeline), **kwargs)

    def read_split(self) -> Tuple[List[Sample], List[str]]:
        """``(image path, label)`` of the split's samples and the class names."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        samples, classes = self.read_split()
        given = self._metainfo.get('classes')
        if given is not None and tuple(given) != tuple(classes):
            # the labels are the files' own; other names would silently mislabel every class
            raise ValueError(f'metainfo classes ({len(given)}) differ from the {len(classes)} '
                             f'classes {self.NAME} lists under {self.data_root}')
        self._metainfo['classes'] = tuple(classes)
        self._image_keys = tuple(image_keys([p for p, _ in samples], [y for _, y in samples],
                                            self.data_root))
        return [dict(img_path=path, gt_label=label) for path, label in samples]

    @property
    def metainfo(self) -> dict:
        """mmengine's metainfo (``classes``) and, for an evaluation split once its samples are
        read, ``images``: each sample's ``'<path under data_root>#<label>'``
        (:func:`engine.records.image_keys`), which mmengine's loops hand a metric as its
        ``dataset_meta`` and ``ProbeAccuracy`` records as the image's identity."""
        meta = super().metainfo
        # a tuple, shared by every copy of the metainfo; not for a subset mmengine took of it,
        # nor for the training split, whose metainfo mmengine saves in every checkpoint
        if (self.split != self.SPLITS[0] and self._image_keys is not None
                and len(self._image_keys) == len(self)):
            meta['images'] = self._image_keys
        return meta

    @property
    def num_classes(self) -> int:
        if not self._fully_initialized:  # the classes are read with the samples
            self.full_init()
        return len(self._metainfo['classes'])

    def missing(self, path: str, what: str) -> FileNotFoundError:
        """The error for a missing file or folder of the layout."""
        layout = DataLayout(self.NAME, self.LAYOUT, self.ROOT_ENV, self.ROOT_HOLDS, self.GENERATOR)
        return layout.missing(what, path, self.data_root, self.root_env)

    def require(self, path: str, what: str, folder: bool = False) -> str:
        """``path``, once it exists (as a folder if ``folder``)."""
        if not (osp.isdir(path) if folder else osp.isfile(path)):
            raise self.missing(path, what)
        return path


@DATASETS.register_module()
class ImageNetDataset(ClassificationDataset):
    """ImageNet in its class-folder layout: ``data_root/{train,val}/<wnid>/<image>``. Classes are
    the sorted class folders of the split, labels those of torchvision's ``ImageFolder``; train and
    val must hold the same class folders (else the same label would mean different classes)."""

    NAME, SPLITS, LAYOUT = 'ImageNet', ('train', 'val'), IMAGENET_LAYOUT
    ROOT_ENV, GENERATOR = 'IMAGENET_ROOT', 'imagenet'
    ROOT_HOLDS = 'the folder holding train/ and val/'

    def read_split(self) -> Tuple[List[Sample], List[str]]:
        folder = self.require(osp.join(self.data_root, self.split), f'{self.split} folder', True)
        samples, classes = scan_image_folder(folder)
        if not samples:
            raise self.missing(osp.join(folder, '<class>', '<image>'), 'image')
        other = osp.join(self.data_root, 'val' if self.split == 'train' else 'train')
        if osp.isdir(other):
            other_classes = sorted(e.name for e in os.scandir(other) if e.is_dir())
            if other_classes != classes:
                differ = sorted(set(classes) ^ set(other_classes))
                raise ValueError(f'{folder} and {other} hold different class folders '
                                 f'({len(classes)} vs {len(other_classes)}; e.g. {differ[:5]}): '
                                 'the labels of the two splits would not match')
        return samples, classes


@DATASETS.register_module()
class INat21Dataset(ClassificationDataset):
    """iNaturalist 2021: ``data_root/{train_mini,val}.json`` and the images they name (their
    ``file_name`` under ``data_root``). Label = ``category_id`` (0..9,999), class = its ``name``.
    The real splits hold 500,000 (train_mini) and 100,000 (val) images."""

    NAME, SPLITS, LAYOUT = 'iNaturalist 2021', ('train_mini', 'val'), INAT21_LAYOUT
    ROOT_ENV, ROOT_HOLDS, GENERATOR = 'INAT_ROOT', 'the folder holding train_mini.json', 'inat21'

    #: the files whose categories each split's must equal, the first of them that exists
    OTHER_FILES = {'train_mini': ('val.json',), 'val': ('train_mini.json', 'train.json')}

    def read_split(self) -> Tuple[List[Sample], List[str]]:
        path = self.require(osp.join(self.data_root, f'{self.split}.json'), 'annotation file')
        self.require(osp.join(self.data_root, self.split), 'image folder', folder=True)
        samples, classes = parse_inat21(path)
        others = [osp.join(self.data_root, name) for name in self.OTHER_FILES[self.split]]
        other = next((name for name in others if osp.isfile(name)), None)
        if other is not None:  # labels are category ids: an id must mean one species in both
            check_same_classes(classes, path, inat21_categories(other), other)
        return [(osp.join(self.data_root, name), label) for name, label in samples], classes


@DATASETS.register_module()
class CUB200Dataset(ClassificationDataset):
    """CUB-200-2011: ``data_root/CUB_200_2011`` with its text files and ``images/``; the official
    split of ``train_test_split.txt`` (5,994 train / 5,794 test), label = class_id - 1, class = the
    name in ``classes.txt`` (e.g. ``001.Black_footed_Albatross``)."""

    NAME, SPLITS, LAYOUT = 'CUB-200-2011', ('train', 'test'), CUB200_LAYOUT
    ROOT_ENV, ROOT_HOLDS, GENERATOR = 'CUB_ROOT', 'the folder holding CUB_200_2011', 'cub'

    def read_split(self) -> Tuple[List[Sample], List[str]]:
        folder = osp.join(self.data_root, 'CUB_200_2011')
        for name in ('images.txt', 'image_class_labels.txt', 'train_test_split.txt', 'classes.txt'):
            self.require(osp.join(folder, name), 'annotation file')
        images = self.require(osp.join(folder, 'images'), 'image folder', folder=True)
        rows, classes = parse_cub200(folder)
        want_train = self.split == 'train'
        return [(osp.join(images, path), label) for path, label, is_train in rows
                if is_train == want_train], classes


@DATASETS.register_module()
class StanfordCarsDataset(ClassificationDataset):
    """Stanford Cars in the layout torchvision's ``StanfordCars`` reads
    (``data_root/stanford_cars``): the devkit's train annotations, and
    ``cars_test_annos_withlabels.mat`` for test (8,144 / 8,041 images); label = ``class`` - 1,
    classes = ``cars_meta.mat``'s ``class_names`` (196)."""

    NAME, SPLITS, LAYOUT = 'Stanford Cars', ('train', 'test'), STANFORD_CARS_LAYOUT
    ROOT_ENV, ROOT_HOLDS, GENERATOR = 'CARS_ROOT', 'the folder holding stanford_cars', 'cars'

    def read_split(self) -> Tuple[List[Sample], List[str]]:
        base = osp.join(self.data_root, 'stanford_cars')
        annotations = (osp.join(base, 'devkit', 'cars_train_annos.mat') if self.split == 'train'
                       else osp.join(base, 'cars_test_annos_withlabels.mat'))
        self.require(annotations, 'annotation file')
        meta = self.require(osp.join(base, 'devkit', 'cars_meta.mat'), 'class names file')
        images = self.require(osp.join(base, f'cars_{self.split}'), 'image folder', folder=True)
        samples, classes = parse_stanford_cars(annotations, meta)
        return [(osp.join(images, name), label) for name, label in samples], classes


# --- class-balanced subsets ----------------------------------------------------------------------

def class_balanced_indices(labels: Sequence[int], fraction: Optional[float], seed: int = 0,
                           per_class: Optional[int] = None) -> np.ndarray:
    """Sorted indices of ``max(1, round(fraction * n))`` samples of each class (``n`` its size), or
    of ``per_class`` of each where it is given, each class's chosen by a permutation of
    ``numpy.random.default_rng(seed)``, classes in ascending order."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        keep = max(1, round(fraction * len(members))) if per_class is None else per_class
        if keep > len(members):
            raise ValueError(f'class {label} has {len(members)} samples, fewer than the '
                             f'{keep} to draw')
        chosen.append(members[rng.permutation(len(members))[:keep]])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


class IndexedSubset:
    """The samples ``indices`` of a dataset, in that order, with the dataset protocol the loops
    read (``metainfo``, ``num_classes``, items and their infos): what the subsets of a
    classification dataset share.

    ``get_data_info`` gives the wrapped dataset's info, whose ``sample_idx`` is its index there.
    """

    def __init__(self, dataset: BaseDataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices: List[int] = [int(i) for i in indices]

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's metainfo, its ``images`` those of the kept indices."""
        meta = self.dataset.metainfo
        if 'images' in meta:
            meta['images'] = tuple(meta['images'][i] for i in self.indices)
        return meta

    @property
    def num_classes(self) -> int:
        return len(self.metainfo['classes'])

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[self.indices[index]]

    def get_data_info(self, index: int) -> dict:
        return self.dataset.get_data_info(self.indices[index])


@DATASETS.register_module()
class ClassBalancedSubset(IndexedSubset):
    """A seeded, class-balanced part of a classification dataset, in the dataset's order.

    ``part='subset'`` keeps ``max(1, round(fraction * n))`` of the ``n`` samples of each class;
    ``part='rest'`` keeps the others, so the two partition the dataset (e.g. a 10% kNN bank, or a
    held-out slice of a training set for choosing hyper-parameters and the rest to train on).

    Args:
        dataset: a dataset with ``get_data_info`` (``gt_label``) and ``metainfo``, or its config.
        fraction: the part of each class the subset keeps, in (0, 1).
        part: ``'subset'`` or ``'rest'``.
        seed: the seed of the per-class permutations.

    ``get_data_info`` gives the wrapped dataset's info, whose ``sample_idx`` is its index there.
    """

    PARTS = ('subset', 'rest')

    def __init__(self, dataset: Union[dict, BaseDataset], fraction: float, part: str = 'subset',
                 seed: int = 0) -> None:
        if not 0 < fraction < 1:
            raise ValueError(f'ClassBalancedSubset: fraction must be in (0, 1), got {fraction}')
        if part not in self.PARTS:
            raise KeyError(f'ClassBalancedSubset: unknown part {part!r}; choose one of '
                           f'{self.PARTS}')
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.fraction, self.part, self.seed = fraction, part, seed
        labels = [self.dataset.get_data_info(i)['gt_label'] for i in range(len(self.dataset))]
        chosen = class_balanced_indices(labels, fraction, seed)
        if part == 'rest':
            chosen = np.setdiff1d(np.arange(len(labels)), chosen)
        super().__init__(self.dataset, chosen)


# --- the dataset against the config ---------------------------------------------------------------

def dataset_num_classes(dataset) -> Optional[int]:
    """The number of classes ``dataset`` labels with: its ``num_classes``, else the length of its
    ``metainfo['classes']``; None when it tells neither."""
    count = getattr(dataset, 'num_classes', None)
    if count is None:
        metainfo = getattr(dataset, 'metainfo', None)
        classes = metainfo.get('classes') if isinstance(metainfo, dict) else None
        count = None if classes is None else len(classes)
    return count


def describe_dataset(dataset) -> str:
    """``dataset`` in words for an error: its type, split and data_root, or what it wraps."""
    fields = [f'{name}={getattr(dataset, name)!r}' for name in ('split', 'data_root')
              if getattr(dataset, name, None) not in (None, '')]
    inner = getattr(dataset, 'dataset', None)  # a ClassBalancedSubset, a torch Subset
    if inner is not None and not fields:
        return f'{type(dataset).__name__} of {describe_dataset(inner)}'
    return f'{type(dataset).__name__}({", ".join(fields)})'


def check_num_classes(dataset, num_classes: Optional[int], where: str,
                      key: str = 'model.num_classes') -> None:
    """Refuse a dataset with more classes than the model's ``num_classes`` (the config's ``key``),
    naming ``where`` the config puts it: its last labels would have no output (the loss, the kNN
    vote or the accuracy would fail or be wrong far from here). Fewer classes pass (a model may
    have spare outputs); a dataset that tells no class count, or no ``num_classes``, is not
    checked."""
    count = dataset_num_classes(dataset)
    if count is None or num_classes is None or count <= num_classes:
        return
    beyond = (f'label {num_classes} has' if count == num_classes + 1
              else f'labels {num_classes}..{count - 1} have')
    raise ValueError(
        f'{where} ({describe_dataset(dataset)}) has {count} classes (labels 0..{count - 1}), but '
        f'{key} = {num_classes}: {beyond} no output in the model. Set {key} to {count}, or point '
        f'{where} at the dataset the config was written for')


def check_loop_classes(runner, dataset, where: str) -> None:
    """:func:`check_num_classes` of a loop's ``dataset`` against the runner's config key
    ``model.num_classes`` (or, without one, the built model's ``num_classes``)."""
    model_cfg = runner.cfg.get('model')
    num_classes = model_cfg.get('num_classes') if isinstance(model_cfg, dict) else None
    if num_classes is None:
        num_classes = getattr(unwrap_model(runner.model), 'num_classes', None)
    check_num_classes(dataset, num_classes, where)


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """:func:`check_loop_classes` of mmengine's own loops' datasets, when each loop starts (before
    its first batch): the loops over cached features and the kNN test loop check theirs when they
    are built; this hook (``custom_hooks = [dict(type='NumClassesCheckHook')]``) does it for a
    probe over images in mmengine's plain loops."""

    priority = 'VERY_HIGH'  # before any hook that reads a batch

    def before_train(self, runner) -> None:
        check_loop_classes(runner, runner.train_dataloader.dataset, 'train_dataloader.dataset')

    def before_val(self, runner) -> None:
        check_loop_classes(runner, runner.val_dataloader.dataset, 'val_dataloader.dataset')

    def before_test(self, runner) -> None:
        check_loop_classes(runner, runner.test_dataloader.dataset, 'test_dataloader.dataset')


def training_split(dataloader: dict) -> dict:
    """``dataloader`` (a config) reading its dataset's training split, through its own pipeline:
    the test dataloader's config gives kNN's bank, the training images as the test sees them."""
    dataset = dataloader['dataset']
    cls = DATASETS.get(dataset['type']) if isinstance(dataset.get('type'), str) else None
    if cls is None or not issubclass(cls, ClassificationDataset):
        raise ValueError(f'the training split of {dataset.get("type")!r} is not known (a '
                         'ClassificationDataset names it first in SPLITS): give the bank '
                         'dataloader in the config')
    return ConfigDict(dataloader, dataset=dict(dataset, split=cls.SPLITS[0]))
