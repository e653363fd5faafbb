"""Two suite runners never collide: one runner per work dir (the second stops at once, changing
nothing, and names the first; a runner that ends or is killed frees the work dir), and synthetic
data written by two runners at once, or by a killed one, appear only whole."""
import json
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason='flock and rename semantics as on Linux')

# A runner holding its work dir: the real entry point, Suite.run, whose first step (writing the
# synthetic data) is replaced by one that says so and then blocks until stdin is closed.
_HOLDER = """
import sys
import suite.runner as runner

def hold(self):
    print('running', flush=True)
    sys.stdin.read()
    raise SystemExit(0)

runner.Suite.write_data = hold
runner.Suite(dict(pretrain={}, transfer=[], gpus=0), sys.argv[1]).run()
"""

# Suite.write_data of a preset whose one dataset is written by a generator that writes a file named
# after its tag, says it started (a file in `signals`), waits for the file `go`, then writes
# done.txt: two of them can be held mid-write at once, or killed there.
_WRITER = """
import json, os, os.path as osp, sys, time
import suite.runner as runner
from synthetic import GENERATORS

def slow(root, tag, signals, go):
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, tag + '.txt'), 'w') as f:
        f.write(tag)
    open(osp.join(signals, 'started.' + tag), 'w').close()
    deadline = time.monotonic() + 60
    while not osp.exists(go):
        if time.monotonic() > deadline:
            raise TimeoutError('no go')
        time.sleep(0.02)
    with open(osp.join(root, 'done.txt'), 'w') as f:
        f.write(tag)

GENERATORS['slow'] = slow
runner.Suite(json.loads(sys.argv[1]), sys.argv[2]).write_data()
"""


class Proceeded(Exception):
    """Raised by the test's stand-in for the first step of a run: the runner went on."""


def open_bytes(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


def snapshot(folder) -> Dict[str, tuple]:
    """Every path under ``folder`` -> its modification time and (for a file) its bytes."""
    found = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = osp.join(dirpath, name)
            content = open_bytes(path) if name in files else None
            found[osp.relpath(path, folder)] = (os.stat(path).st_mtime_ns, content)
    return found


def start_holder(work_dir) -> subprocess.Popen:
    """A runner subprocess on ``work_dir``, once it is past taking the work dir."""
    proc = subprocess.Popen([sys.executable, '-c', _HOLDER, str(work_dir), 'holder-marker'],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert line == 'running\n', line + proc.stdout.read()
    return proc


@pytest.fixture
def holders():
    """The holder subprocesses a test starts, killed and reaped at its end."""
    started: List[subprocess.Popen] = []
    yield lambda work_dir: started.append(start_holder(work_dir)) or started[-1]
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if not pipe.closed:
                pipe.close()


def second_runner(work_dir, monkeypatch):
    """Suite.run on ``work_dir`` in this process, raising Proceeded if it gets to work."""
    import suite.runner as runner

    def proceed(self):
        raise Proceeded(f'the runner went on in {self.work_dir}')
    monkeypatch.setattr(runner.Suite, 'write_data', proceed)
    return runner.Suite(dict(pretrain={'ijepa': 'x.py'}, transfer=[], gpus=0), str(work_dir)).run()


def assert_names_holder(message: str, work_dir, proc: subprocess.Popen) -> None:
    assert osp.join(str(work_dir), 'suite_runner.lock') in message, message
    assert f'pid {proc.pid} on host {socket.gethostname()}' in message, message
    assert re.search(r'started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d', message), message
    assert f'-c {work_dir} holder-marker' in message, message


def test_a_second_runner_on_a_held_work_dir_stops_at_once_and_changes_nothing(
        tmp_path, holders, monkeypatch):
    work_dir = tmp_path / 'work'
    holder = holders(work_dir)
    before = snapshot(work_dir)
    with pytest.raises(RuntimeError, match='in use by another suite runner') as busy:
        second_runner(work_dir, monkeypatch)
    assert_names_holder(str(busy.value), work_dir, holder)
    assert snapshot(work_dir) == before
    assert holder.poll() is None


def test_a_runner_proceeds_once_the_holder_has_ended(tmp_path, holders, monkeypatch):
    work_dir = tmp_path / 'work'
    holder = holders(work_dir)
    with pytest.raises(RuntimeError, match='in use by another suite runner'):
        second_runner(work_dir, monkeypatch)
    holder.stdin.close()  # the holder's run ends
    assert holder.wait(timeout=30) == 0
    with pytest.raises(Proceeded):
        second_runner(work_dir, monkeypatch)


def test_a_runner_killed_by_sigkill_leaves_no_stale_lock(tmp_path, holders, monkeypatch):
    work_dir = tmp_path / 'work'
    holder = holders(work_dir)
    with pytest.raises(RuntimeError, match='in use by another suite runner'):
        second_runner(work_dir, monkeypatch)
    holder.kill()
    holder.wait()
    # its lock file is still there, naming the dead runner: the lock itself died with it
    assert str(holder.pid) in (work_dir / 'suite_runner.lock').read_text()
    with pytest.raises(Proceeded):
        second_runner(work_dir, monkeypatch)
    # taken over: the next one is refused in this process's name
    from suite.lock import hold_work_dir
    with hold_work_dir(str(work_dir)):
        with pytest.raises(RuntimeError, match=f'pid {os.getpid()} '):
            with hold_work_dir(str(work_dir)):
                pass


@pytest.mark.slow  # tools/run_suite.py, which loads the preset with mmengine
def test_run_suite_on_a_held_work_dir_exits_with_the_holder_named(tmp_path, holders):
    work_dir = tmp_path / 'work'
    preset = tmp_path / 'preset.py'
    # a stage that would fail at once if the runner got to it: no config there
    preset.write_text(f"work_dir = '{work_dir}'\ngpus = 0\n"
                      f"pretrain = dict(ijepa='{tmp_path}/missing.py')\ntransfer = []\n")
    holder = holders(work_dir)
    before = snapshot(work_dir)
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'run_suite.py'), str(preset),
                           '--work-dir', str(work_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'in use by another suite runner' in proc.stderr, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert_names_holder(proc.stderr, work_dir, holder)
    assert snapshot(work_dir) == before
    assert holder.poll() is None


def start_writer(tmp_path, root, tag: str) -> subprocess.Popen:
    """A runner subprocess writing the preset's synthetic data to ``root``, on its own work dir,
    its generator tagged ``tag``."""
    preset = dict(pretrain={}, transfer=[], gpus=0, synthetic=dict(
        slow=dict(root=str(root), tag=tag, signals=str(tmp_path), go=str(tmp_path / 'go'))))
    return subprocess.Popen([sys.executable, '-c', _WRITER, json.dumps(preset),
                             str(tmp_path / f'work_{tag}')], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_started(tmp_path, *procs: subprocess.Popen) -> None:
    """Wait until every writer of ``procs`` (tagged by index: a, b, ...) is mid-write."""
    deadline = time.monotonic() + 60
    for tag, proc in zip('ab', procs):
        while not (tmp_path / f'started.{tag}').exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, f'writer {tag} did not start'
            time.sleep(0.02)


def test_two_runners_writing_the_same_synthetic_data_at_once_leave_one_whole_copy(tmp_path):
    root = tmp_path / 'data' / 'clevr'
    writers = [start_writer(tmp_path, root, tag) for tag in 'ab']
    try:
        wait_started(tmp_path, *writers)  # both mid-write, the data absent
        assert not root.exists()
        (tmp_path / 'go').touch()
        outputs = [w.communicate(timeout=60)[0] for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert [w.returncode for w in writers] == [0, 0], outputs
    files = sorted(os.listdir(root))
    assert files in (['a.txt', 'done.txt'], ['b.txt', 'done.txt']), files
    assert (root / 'done.txt').read_text() == files[0][0]  # one writer's copy, whole
    assert sum('written by another process meanwhile' in o for o in outputs) == 1, outputs
    assert os.listdir(root.parent) == ['clevr']  # the loser's copy discarded


def test_a_killed_generation_leaves_nothing_under_the_final_name(tmp_path):
    root = tmp_path / 'data' / 'clevr'
    killed = start_writer(tmp_path, root, 'a')
    try:
        wait_started(tmp_path, killed)
    finally:
        killed.kill()
        killed.communicate()
    assert not root.exists()
    assert not any(name.startswith('clevr') for name in os.listdir(root.parent))
    (tmp_path / 'go').touch()
    rerun = start_writer(tmp_path, root, 'b')
    output = rerun.communicate(timeout=60)[0]
    assert rerun.returncode == 0, output
    # the rerun's own data, nothing of the killed writer's
    assert sorted(os.listdir(root)) == ['b.txt', 'done.txt']


def test_write_whole_dir_of_threads_racing_keeps_the_first_and_a_failed_writer_leaves_nothing(
        tmp_path):
    from suite.lock import write_whole_dir
    root = str(tmp_path / 'data')
    both_writing = threading.Barrier(2, timeout=30)
    results = {}

    def write(tag: str, folder: str) -> None:
        open(osp.join(folder, tag), 'w').close()
        both_writing.wait()  # neither can have put its copy in place before the other starts

    threads = [threading.Thread(target=lambda t=t: results.update(
        {t: write_whole_dir(root, lambda folder: write(t, folder))})) for t in 'ab']
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results.values()) == [False, True], results
    assert os.listdir(root) == [tag for tag, won in results.items() if won]
    assert os.listdir(tmp_path) == ['data']
    assert write_whole_dir(root, lambda folder: pytest.fail('written again')) is False

    def fail(folder: str) -> None:
        open(osp.join(folder, 'half'), 'w').close()
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_whole_dir(str(tmp_path / 'other'), fail)
    assert os.listdir(tmp_path) == ['data']


def test_the_lock_is_not_inherited_by_a_stage_process(tmp_path):
    # a stage outliving a killed runner (for up to STOP_TIMEOUT) must not keep its work dir locked
    from suite.lock import hold_work_dir
    with hold_work_dir(str(tmp_path)):
        stage = subprocess.Popen([sys.executable, '-c', 'import time; print(1, flush=True); '
                                  'time.sleep(60)'], close_fds=False, stdout=subprocess.PIPE)
    # running its own code: the exec is over, and with it the kernel's closing of the
    # close-on-exec files (done after a vfork's parent resumes)
    assert stage.stdout.readline() == b'1\n'
    try:
        with hold_work_dir(str(tmp_path)):
            pass
    finally:
        stage.send_signal(signal.SIGKILL)
        stage.wait()
        stage.stdout.close()
