"""Killing tools/run_suite.py takes the stage process it runs down with it, so that a rerun never
trains in the same work dir as a leftover: SIGTERM and SIGINT (Ctrl-C) through the runner, which
stops the stage and waits for it; SIGKILL through Linux's parent-death signal, also for torchrun
and its workers."""
import ctypes
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional

import pytest

from tests.helpers import ROOT

pytestmark = [pytest.mark.slow,  # every test runs the suite runner and its training stage
              pytest.mark.skipif(not sys.platform.startswith('linux'),
                                 reason='the parent-death signal and /proc are Linux')]

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
TRAIN = 'tools/train.py'
TORCHRUN = 'torch.distributed.run'


def parent_of(pid: int) -> Optional[int]:
    """The parent pid of a process, None once it is gone."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def command_line(pid: int) -> str:
    try:
        with open(f'/proc/{pid}/cmdline') as f:
            return f.read().replace('\0', ' ')
    except OSError:
        return ''


def descendants(pid: int) -> Dict[int, str]:
    """Every process under ``pid`` (its children, theirs, ...) -> its command line."""
    parents = {int(p): parent_of(int(p)) for p in os.listdir('/proc') if p.isdigit()}
    found, todo = {}, [pid]
    while todo:
        above = todo.pop()
        for child in (c for c, p in parents.items() if p == above):
            found[child] = command_line(child)
            todo.append(child)
    return found


def exit_status(pid: int, timeout: float) -> Optional[int]:
    """The wait status of an adopted child once it exits, None if it still runs after
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    return None


def is_gone(pid: int) -> bool:
    """Whether a process has exited (reaping it if it was adopted here)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return bool(done)
    except ChildProcessError:  # another process's child: gone once /proc forgets it
        return parent_of(pid) is None


def still_running(pids, timeout: float) -> List[int]:
    """Those of ``pids`` that still run ``timeout`` seconds from now, or as soon as none does."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if not is_gone(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if not is_gone(p)]
    return left


def end(pid: int, command: str) -> None:
    """Kill a process that this test started (if it still runs ``command``) and reap it if it was
    adopted here."""
    if command and command_line(pid) == command:
        os.kill(pid, signal.SIGKILL)
    try:
        exit_status(pid, timeout=5)
    except ChildProcessError:
        pass


@pytest.fixture
def adopting():
    """Make this process the subreaper of its descendants: a stage process that the killed runner
    orphans is re-parented here, not to init, so the test can read how it ended and reap it."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    assert prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, os.strerror(ctypes.get_errno())
    yield
    prctl(PR_SET_CHILD_SUBREAPER, 0)


@pytest.fixture(scope='module')
def preset(tmp_path_factory):
    """Presets whose first stage pretrains on a few synthetic CLEVR images for 1000 epochs, a stage
    process that never ends by itself while a test runs: ``preset.py`` runs tools/train.py,
    ``preset_dist.py`` bash tools/dist_pretrain.sh (torchrun, one CPU process)."""
    from synthetic import make_clevr
    tmp = tmp_path_factory.mktemp('stop')
    make_clevr(str(tmp / 'clevr'), num_train=32, num_val=4, seed=1)
    text = f"""
_base_ = '{ROOT}/configs/suite/tiny.py'
synthetic = dict(_delete_=True)
baselines = dict(_delete_=True)  # its file is among the synthetic data not written here
env = dict(_delete_=True, SYNTH_CLEVR_ROOT='{tmp}/clevr')
pretrain_options = ['train_cfg.max_epochs=1000', 'default_hooks.logger.interval=1']
"""
    (tmp / 'preset.py').write_text(text)
    (tmp / 'preset_dist.py').write_text(text + 'gpus = 1\n')
    return tmp


def _interruptible() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: give the runner the SIGINT of an interactive terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Runner:
    """tools/run_suite.py on a preset, its output in ``<tmp>/runner.out``; on leaving the ``with``
    block, everything it started that still runs is killed."""

    def __init__(self, preset_file, tmp) -> None:
        self.log = tmp / 'runner.out'
        self.stage_log = tmp / 'work' / 'pretrain_ijepa' / 'suite_stage.log'
        self.started: Dict[int, str] = {}
        with socket.socket() as s:  # torchrun's rendezvous port: one that is free
            s.bind(('127.0.0.1', 0))
            port = str(s.getsockname()[1])
        with open(self.log, 'w') as out:
            self.proc = subprocess.Popen(
                [sys.executable, osp.join(ROOT, 'tools', 'run_suite.py'), str(preset_file),
                 '--work-dir', str(tmp / 'work')], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, PORT=port), preexec_fn=_interruptible)

    def __enter__(self) -> 'Runner':
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid, command in self.started.items():
            end(pid, command)

    def output(self) -> str:
        return self.log.read_text() + (self.stage_log.read_text() if self.stage_log.exists()
                                       else '')

    def wait_for(self, parent: int, marker: str, log_line: str = '') -> int:
        """The pid of ``parent``'s child running ``marker``, once it has started and (if given)
        ``log_line`` is in the stage's log; records every process under the runner then."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [pid for pid, command in descendants(parent).items()
                     if marker in command and parent_of(pid) == parent]
            if found and (not log_line or log_line in self.output()):
                self.started.update(descendants(self.proc.pid))
                return found[0]
            assert self.proc.poll() is None, f'the runner ended first:\n{self.output()}'
            time.sleep(0.05)
        raise AssertionError(f'no {marker} {log_line} under pid {parent} after 60 s:\n'
                             f'{self.output()}')


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT], ids=['SIGTERM', 'SIGINT'])
def test_sigterm_and_sigint_stop_the_stage_before_the_runner_exits(preset, tmp_path, sig, adopting):
    with Runner(preset / 'preset.py', tmp_path) as runner:
        stage = runner.wait_for(runner.proc.pid, TRAIN)
        os.kill(runner.proc.pid, sig)
        code = runner.proc.wait(timeout=30)
        output = runner.output()
        # the runner stopped its stage with SIGTERM and reaped it before it exited itself
        assert f'stopped {TRAIN} (pid {stage}, exit -{int(signal.SIGTERM)})' in output, output
        assert code == (128 + sig if sig == signal.SIGTERM else -sig), output
        assert still_running(runner.started, timeout=10) == []


def test_sigkill_of_the_runner_takes_the_stage_down(preset, tmp_path, adopting):
    with Runner(preset / 'preset.py', tmp_path) as runner:
        stage = runner.wait_for(runner.proc.pid, TRAIN)
        runner.proc.kill()
        runner.proc.wait()
        status = exit_status(stage, timeout=10)  # orphaned, the stage is adopted here
        assert status is not None, f'{TRAIN} still runs 10 s after its runner was killed'
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
        assert still_running(runner.started, timeout=10) == []


def test_sigkill_of_the_runner_takes_torchrun_and_its_training_workers_down(preset, tmp_path,
                                                                            adopting):
    # bash tools/dist_pretrain.sh execs into torchrun (one pid, so the parent-death request holds);
    # torchrun passes SIGTERM on to each worker's process group (every worker has its own session)
    with Runner(preset / 'preset_dist.py', tmp_path) as runner:
        torchrun = runner.wait_for(runner.proc.pid, TORCHRUN)
        runner.wait_for(torchrun, TRAIN, log_line='(train)')  # training, not starting up
        runner.proc.kill()
        runner.proc.wait()
        assert exit_status(torchrun, timeout=40) is not None, 'torchrun outlived its runner'
        left = still_running(runner.started, timeout=10)
        assert left == [], {pid: runner.started[pid] for pid in left}


# The runner's command loop with the stage's start slowed down: the forked child sleeps before its
# exec, so that a Ctrl-C lands while subprocess.Popen is still starting it.
_SLOW_START = """
import sys, time
import suite.runner as runner
real = runner.die_with_parent

def slow_start():
    preexec = real()
    def sleep_then_preexec():
        time.sleep(2)
        preexec()
    return sleep_then_preexec

runner.die_with_parent = slow_start
suite = runner.Suite(dict(pretrain={}, transfer=[], gpus=0), sys.argv[1])
suite.command([sys.executable, '-c', 'import time; time.sleep(60)'], sys.argv[2])
"""


def test_ctrl_c_while_a_stage_starts_stops_the_stage_too(tmp_path, adopting):
    log = tmp_path / 'stage.log'
    with open(tmp_path / 'runner.out', 'w') as out:
        proc = subprocess.Popen([sys.executable, '-c', _SLOW_START, str(tmp_path), str(log)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_interruptible)
    try:
        deadline = time.monotonic() + 60
        while not descendants(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        (stage, _), = descendants(proc.pid).items()  # forked, still before its exec
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == -signal.SIGINT
        output = (tmp_path / 'runner.out').read_text()
        assert f'stopped -c (pid {stage}, exit -{int(signal.SIGTERM)})' in output, output
        assert still_running([stage], timeout=10) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid, command in descendants(proc.pid).items():
            end(pid, command)
