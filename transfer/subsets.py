"""Low-shot parts of a classification training set (SPEC section 4e): :class:`ImageSubset`.

A part is read from a list of image file names, one a line, the format of SimCLR's
``imagenet_subsets/1percent.txt`` and of MSN's ``imagenet_subsets{1,2,3}/*imgs_class.txt``
(e.g. ``n01440764_10026.JPEG``), or drawn class-balanced with a seed; a drawn list is written in
the same format into the run folder, so that a later run can name it.
"""
import os.path as osp
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence, Union

from mmengine import dist
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger
from mmengine.registry import DATASETS

from engine.records import current_records_dir, replace_atomically

from .classification import (ClassificationDataset, IndexedSubset, class_balanced_indices,
                             describe_dataset)

__all__ = ['ImageSubset', 'read_subset_file', 'indices_of_names', 'write_subset_file',
           'subset_file_name']

#: unmatched names an error shows
_SHOWN = 5


def read_subset_file(path: str) -> List[str]:
    """The image file names of a subset list, one a line (blank lines skipped); a missing file
    or an empty list is an error naming it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'subset file {path} not found: a subset_file lists the image '
                                'file names of the subset, one a line (e.g. SimCLR\'s '
                                'imagenet_subsets/1percent.txt)')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'subset file {path} lists no image')
    return names


def indices_of_names(paths: Sequence[str], names: Sequence[str], where: str) -> List[int]:
    """The sorted indices of the images in ``paths`` whose file names are ``names``: each name
    must be the file name of exactly one image, and listed once (``where`` names the list in the
    errors)."""
    by_name: Dict[str, List[int]] = defaultdict(list)
    for i, path in enumerate(paths):
        by_name[osp.basename(path)].append(i)
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise ValueError(f'{where} lists {len(repeated)} names more than once, e.g. '
                         f'{repeated[:_SHOWN]}')
    unmatched = [n for n in names if n not in by_name]
    if unmatched:
        raise ValueError(f'{where}: {len(unmatched)} of its {len(names)} names match no image of '
                         f'the training set ({len(paths)} images), e.g. {unmatched[:_SHOWN]}')
    ambiguous = [n for n in names if len(by_name[n]) > 1]
    if ambiguous:
        raise ValueError(f'{where}: {len(ambiguous)} of its names match more than one training '
                         f'image, e.g. {ambiguous[0]}: '
                         f'{[paths[i] for i in by_name[ambiguous[0]]][:_SHOWN]}')
    return sorted(by_name[n][0] for n in names)


def subset_file_name(fraction: Optional[float], images_per_class: Optional[int],
                     seed: int) -> str:
    """The name a drawn subset's list is written under, e.g. ``subset_5imgs_class_seed0.txt`` or
    ``subset_fraction0.01_seed0.txt``."""
    what = f'{images_per_class}imgs_class' if fraction is None else f'fraction{fraction:g}'
    return f'subset_{what}_seed{seed}.txt'


def write_subset_file(path: str, names: Sequence[str]) -> None:
    """Write ``names``, one a line, to ``path`` (:func:`~engine.records.replace_atomically`: a
    reader never meets half a list)."""
    data = ''.join(f'{n}\n' for n in names).encode('utf-8')
    replace_atomically(path, lambda f: f.write(data))


def _check_training_split(dataset) -> None:
    """Refuse anything but the training split of a
    :class:`~transfer.classification.ClassificationDataset`: a low-shot subset trains, and the
    reported split must stay out of it. Only those datasets name their training split (first in
    their ``SPLITS``); CLEVR has several training splits and no image infos to draw from, and a
    wrapper (another subset) hides which split it holds, so both are refused rather than taken on
    trust."""
    if not isinstance(dataset, ClassificationDataset):
        raise TypeError(f'ImageSubset takes the training split of a ClassificationDataset (e.g. '
                        f'ImageNetDataset), which names it first in its SPLITS; '
                        f'{describe_dataset(dataset)} is not one')
    if dataset.split != dataset.SPLITS[0]:
        raise ValueError(f'ImageSubset takes a training set; {describe_dataset(dataset)} is the '
                         f'{dataset.split!r} split (the training split is {dataset.SPLITS[0]!r})')


def _check_choice(subset_file: Optional[str], fraction: Optional[float],
                  images_per_class: Optional[int]) -> None:
    """Refuse anything but exactly one way to choose the images: a list, a fraction in (0, 1)
    or a positive count per class."""
    given = [name for name, value in (('subset_file', subset_file), ('fraction', fraction),
                                      ('images_per_class', images_per_class)) if value is not None]
    if len(given) != 1:
        raise ValueError('ImageSubset takes exactly one of subset_file, fraction and '
                         f'images_per_class; given: {given or "none"}')
    if fraction is not None and not 0 < fraction < 1:
        raise ValueError(f'ImageSubset: fraction must be in (0, 1), got {fraction}')
    if images_per_class is not None and (isinstance(images_per_class, bool)
                                         or not isinstance(images_per_class, int)
                                         or images_per_class < 1):
        raise ValueError(f'ImageSubset: images_per_class must be a positive integer, got '
                         f'{images_per_class!r}')


@DATASETS.register_module()
class ImageSubset(IndexedSubset):
    """A part of a classification training set, in the dataset's order.

    Args:
        dataset: the training split of a
            :class:`~transfer.classification.ClassificationDataset`, or its config; any other
            split or dataset (CLEVR's, another subset) is refused.
        subset_file: a list of the part's image file names, one a line (SimCLR's and MSN's
            format, e.g. ``n01440764_10026.JPEG``); each must be the file name of exactly one
            image of ``dataset``.
        fraction: without a list, ``max(1, round(fraction * n))`` of the ``n`` images of each
            class, drawn as :func:`~transfer.classification.class_balanced_indices` draws.
        images_per_class: without a list, exactly this many images of each class, drawn alike.
        seed: the seed of a draw.

    A drawn part's list is written, by the main process, into the run folder (the folder of
    mmengine's current log file; nothing is written outside a runner) as
    :func:`subset_file_name`, and a log line tells how to name it again (``subset_file``); its
    path is then ``self.subset_file``.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], subset_file: Optional[str] = None,
                 fraction: Optional[float] = None, images_per_class: Optional[int] = None,
                 seed: int = 0) -> None:
        _check_choice(subset_file, fraction, images_per_class)
        dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        _check_training_split(dataset)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        paths = [info['img_path'] for info in infos]
        if subset_file is not None:
            indices = indices_of_names(paths, read_subset_file(subset_file), subset_file)
        else:
            labels = [info['gt_label'] for info in infos]
            indices = class_balanced_indices(labels, fraction, seed, images_per_class).tolist()
        super().__init__(dataset, indices)
        self.subset_file = subset_file
        if subset_file is None:
            self.subset_file = self._record_draw([osp.basename(paths[i]) for i in indices],
                                                 subset_file_name(fraction, images_per_class,
                                                                  seed))

    def _record_draw(self, names: List[str], file_name: str) -> Optional[str]:
        """Write the drawn list into the run folder and log how to reuse it; its path, or None
        outside a runner."""
        records = current_records_dir()
        if records is None:
            return None
        path = osp.join(osp.dirname(records), file_name)
        if dist.is_main_process():
            write_subset_file(path, names)
            MMLogger.get_current_instance().info(
                f'ImageSubset: drew {len(names)} images of {describe_dataset(self.dataset)}; '
                f'to train on the same images again: subset_file={path!r}')
        return path
