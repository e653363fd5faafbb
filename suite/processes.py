"""The lifetime of the suite runner's stage processes: each dies with the runner, however the runner
dies, and a stopped one is waited for."""
import ctypes
import os
import signal
import subprocess
import sys
from typing import Callable

#: seconds a stopped stage process gets to exit before SIGKILL: more than the 30 s that torchrun
#: gives its workers after passing SIGTERM on (killed itself, it would leave them running)
STOP_TIMEOUT = 60
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


#: the signals that stop the runner, which stops its stage first (tools/run_suite.py)
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that unblocks :data:`STOP_SIGNALS` in the child (the runner holds them
    back while it starts a stage, and a blocked mask would survive the ``exec``) and after which,
    on Linux, the kernel sends the child SIGTERM when this process dies, however it dies (SIGKILL
    included), through ``prctl(PR_SET_PDEATHSIG)``. The request survives the ``exec`` of the
    ``dist_*.sh`` scripts into torchrun, which passes SIGTERM on to its workers. Other systems have
    no such request: there only ``stop`` on Ctrl-C and SIGTERM takes the child down."""
    linux = sys.platform.startswith('linux')
    # looked up here: the forked child loads nothing
    prctl = ctypes.CDLL(None, use_errno=True).prctl if linux else None
    parent = os.getpid()

    def preexec() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        # this process's SIGTERM handler, inherited until exec, would swallow the death signal
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not linux:
            return
        if prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM)) != 0:
            raise OSError(ctypes.get_errno(), 'prctl(PR_SET_PDEATHSIG) failed')
        if os.getppid() != parent:  # the parent died before the request: no signal will come
            os._exit(1)
    return preexec


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM ``proc`` and wait for it to exit; SIGKILL it after ``STOP_TIMEOUT`` seconds."""
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` (status 143, as if killed by it), so that a running stage
    is stopped and waited for (``Suite.command``) before this process exits, as on Ctrl-C."""
    def handler(signum: int, frame) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
