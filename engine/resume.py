"""Which checkpoint a resume of a work dir continues from, read from the files alone (no torch).

Every checkpoint file is written to a temporary name and renamed (``backbones.safe_checkpoint``), so
a file with a checkpoint's name is complete; the pointer and the file it names are two writes, and a
kill between them leaves the pointer one checkpoint behind, which :func:`latest_checkpoint` notices.
"""
import glob
import os.path as osp
import re
import warnings
import zipfile
from typing import List, Optional, Tuple

__all__ = ['POINTER', 'best_checkpoint', 'checkpoints_in', 'latest_checkpoint']

POINTER = 'last_checkpoint'  # mmengine's name for the file holding the last checkpoint's path
_CHECKPOINT = re.compile(r'(?:iter|epoch)_(\d+)\.pth')


def _is_complete(path: str) -> bool:
    """A torch zip checkpoint whose central directory (written last) is present."""
    return osp.isfile(path) and zipfile.is_zipfile(path)


def checkpoints_in(folder: str) -> List[Tuple[int, str]]:
    """``(step, path)`` of the complete ``iter_N.pth`` / ``epoch_N.pth`` files, by step."""
    found = []
    for path in glob.glob(osp.join(folder, '*.pth')):
        match = _CHECKPOINT.fullmatch(osp.basename(path))
        if match and _is_complete(path):
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume ``work_dir`` from, or None when it holds no complete checkpoint.

    That is the one the pointer names, unless the pointer is missing, empty or names a missing or
    incomplete file, or a newer complete checkpoint was written after it (a kill between the two
    writes): then the newest complete checkpoint, with a warning that says why.
    """
    pointer = osp.join(work_dir, POINTER)
    recorded = None
    if osp.exists(pointer):
        with open(pointer) as f:
            recorded = f.read().strip()
    complete = checkpoints_in(work_dir)
    newest = complete[-1][1] if complete else None
    if recorded and _is_complete(recorded):
        if newest is None or osp.samefile(newest, recorded) or \
                osp.getmtime(newest) <= osp.getmtime(recorded):
            return recorded
        problem = f'names {recorded}, but {newest} was written after it'
    elif recorded is None:
        if newest is None:
            return None  # a new work dir
        problem = 'is missing'
    elif not recorded:
        problem = 'is empty'
    else:
        problem = f'names {recorded}, which is missing or incomplete'
    what = f'resuming from the newest complete checkpoint, {newest}' if newest else \
        'no complete checkpoint is left, so the run starts from the beginning'
    warnings.warn(f'{pointer} {problem}: {what}', stacklevel=2)
    return newest


def best_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to test after training ``work_dir``: the best one that mmengine's
    ``CheckpointHook`` kept (``best_*.pth``, chosen on the validation split by the config's
    ``save_best``), else :func:`latest_checkpoint`."""
    found = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')))
    return found[-1] if found else latest_checkpoint(work_dir)
