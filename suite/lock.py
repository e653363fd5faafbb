"""What keeps two suite runners from colliding: one runner per work dir (an advisory lock on a file
in it, held for the whole run), and folders of data that appear only whole, however many processes
write them at once.

The lock is ``fcntl.flock`` on an open file, so the kernel releases it when its holder's process
ends, however it ends (SIGKILL included): a killed runner never leaves a stale lock. The file stays
in the work dir and names its holder (pid, host, command line, start time) for the message that
another runner gets.
"""
import contextlib
import fcntl
import json
import os
import os.path as osp
import shlex
import shutil
import socket
import sys
import tempfile
import time
from typing import Callable, Iterator

#: the lock file in a suite's work dir
LOCK_FILE = 'suite_runner.lock'
#: seconds a refused runner waits for the holder to write its name (it locks, then writes)
_NAME_WAIT = 2.0


class WorkDirBusy(RuntimeError):
    """Another process holds the work dir's lock."""


def _holder_text(path: str) -> str:
    """Who holds the lock file ``path``, as its holder wrote it."""
    deadline = time.monotonic() + _NAME_WAIT
    while True:
        try:
            with open(path) as f:
                holder = json.load(f)
            return (f"pid {holder['pid']} on host {holder['host']}, started {holder['started']}: "
                    f"{holder['command']}")
        except (OSError, ValueError, KeyError, TypeError):
            # read between the holder's lock and its write (or mid-write): ask again shortly
            if time.monotonic() > deadline:
                return 'a process that has not written its name into it'
            time.sleep(0.05)


def _busy_message(work_dir: str, path: str) -> str:
    return (f'the work dir {work_dir} is in use by another suite runner: its lock file {path} is '
            f'held by {_holder_text(path)}\n'
            'Nothing was changed. Wait for that runner to end or stop it (a runner that dies, '
            'even by SIGKILL, frees the lock), or give this run another --work-dir.')


@contextlib.contextmanager
def hold_work_dir(work_dir: str) -> Iterator[str]:
    """Hold the lock of the (existing) ``work_dir`` for the ``with`` block; yield the lock file's
    path. Raise :class:`WorkDirBusy`, naming the lock file and its holder, when another process
    (or another ``with`` block of this one) holds it; then nothing in the work dir is changed."""
    path = osp.join(work_dir, LOCK_FILE)
    # no O_TRUNC: the holder's name stays readable until this process has the lock; the fd is not
    # inherited (PEP 446), so a stage process never keeps the lock of a dead runner
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkDirBusy(_busy_message(work_dir, path)) from None
        holder = dict(pid=os.getpid(), host=socket.gethostname(),
                      command=shlex.join([sys.executable, *sys.argv]),
                      started=time.strftime('%Y-%m-%d %H:%M:%S %z'))
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + '\n').encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # still locked: no reader takes this holder for the next one
    finally:
        os.close(fd)  # releases the lock


def write_whole_dir(root: str, write: Callable[[str], None]) -> bool:
    """Have ``write(folder)`` fill a folder that then appears as ``root``, whole, in one rename;
    return False, writing nothing, where ``root`` is a folder already, and also where another
    process put it in place while this one wrote (this one's copy is discarded, the other kept).

    ``write`` fills a folder in a temporary folder unique to this call, beside ``root`` (so on its
    filesystem): a writer that fails removes it, one that is killed leaves it, hidden
    (``.<name>.*.tmp``), but never anything under ``root``'s name."""
    if osp.isdir(root):
        return False
    parent, name = osp.split(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f'.{name}.', suffix='.tmp', dir=parent)
    try:
        # written in a subfolder: mkdtemp's folder is private (0700), the subfolder gets the
        # umask's permissions, as a folder made in place would
        folder = osp.join(scratch, name)
        os.mkdir(folder)
        write(folder)
        return _put_in_place(folder, root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _put_in_place(folder: str, root: str) -> bool:
    """Rename ``folder`` to ``root``; False where ``root`` is a folder of another writer's."""
    try:
        # rename(2) does not replace a non-empty folder: of writers racing, the first one wins
        os.rename(folder, root)
        return True
    except OSError:
        if _is_nonempty_dir(root):
            return False
        raise


def _is_nonempty_dir(path: str) -> bool:
    try:
        return bool(os.listdir(path))
    except OSError:
        return False
