"""Checkpoints load with weights_only=True through the allowlist; anything else is refused. Nothing
of it is in force until enable_safe_checkpoints() is called: importing the packages changes nothing
in torch or mmengine."""
import collections
import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner import CheckpointLoader, Runner
from mmengine.testing.runner_test_case import ToyDataset, ToyMetric, ToyModel

from backbones.safe_checkpoint import enable_safe_checkpoints


@pytest.fixture(autouse=True)
def safe_checkpoints() -> None:
    """Every test here runs with the safe checkpoint I/O enabled, as the entry points enable it."""
    enable_safe_checkpoints()


def _toy_runner(work_dir, max_epochs, resume=False):
    loader = dict(dataset=dict(type=ToyDataset), batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=True))
    return Runner(
        model=ToyModel(), work_dir=str(work_dir), train_dataloader=loader,
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=dict(type=ToyMetric), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1, 2]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0), resume=resume, experiment_name=f'toy_{max_epochs}_{resume}')


def test_mmengine_checkpoints_resume_under_weights_only(tmp_path):
    _toy_runner(tmp_path, max_epochs=1).train()
    ckpt = CheckpointLoader.load_checkpoint(str(tmp_path / 'epoch_1.pth'))
    assert {'meta', 'state_dict', 'optimizer', 'message_hub', 'param_schedulers'} <= set(ckpt)
    runner = _toy_runner(tmp_path, max_epochs=2, resume=True)
    runner.train()
    assert runner.epoch == 2 and (tmp_path / 'epoch_2.pth').exists()


@pytest.mark.parametrize('payload,name', [
    (os.system, 'posix.system'),
    (os.getcwd, 'posix.getcwd'),
])
def test_checkpoint_with_an_unlisted_global_is_refused(tmp_path, payload, name):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'hook': payload}, path)
    with pytest.raises(pickle.UnpicklingError, match=f'refused to load {path}: it holds {name}'):
        CheckpointLoader.load_checkpoint(str(path))


def test_getattr_is_narrowed_to_history_buffer_statistics(tmp_path):
    class Sneaky:
        def __reduce__(self):
            return getattr, (collections.Counter, 'fromkeys')  # Counter itself is allowed
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer statistics'):
        CheckpointLoader.load_checkpoint(str(path))


def test_local_writes_are_atomic(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    backend = get_file_backend(path)
    backend.put(b'complete checkpoint', path)
    with pytest.raises(TypeError):
        backend.put(object(), path)  # fails while writing
    with open(path, 'rb') as f:
        assert f.read() == b'complete checkpoint'
    assert os.listdir(tmp_path) == ['epoch_1.pth']


def test_atomic_writes_keep_the_usual_permissions(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    get_file_backend(path).put(b'x', path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


# In a fresh interpreter: the state of torch's safe globals, mmengine's local file backend and
# mmengine's loader of local checkpoints, before and after importing the packages, after
# enable_safe_checkpoints() and after calling it once more.
_STATE_SCRIPT = textwrap.dedent("""
    import json, os, pickle, sys, tempfile
    import torch
    from mmengine.fileio import get_file_backend
    from mmengine.runner import CheckpointLoader

    evil = os.path.join(tempfile.mkdtemp(), 'evil.pth')
    torch.save({'hook': os.system}, evil)

    def state():
        try:
            CheckpointLoader.load_checkpoint(evil)
            loader = 'loaded'
        except pickle.UnpicklingError as err:
            loader = 'suite' if str(err).startswith('refused to load') else 'torch'
        return dict(safe_globals=sorted(map(str, torch.serialization.get_safe_globals())),
                    local_backend=type(get_file_backend(evil)).__name__, loader=loader)

    states = [state()]
    for module in sys.argv[1:]:
        __import__(module)
    states.append(state())
    from backbones.safe_checkpoint import ALLOWED_GLOBALS, enable_safe_checkpoints
    enable_safe_checkpoints()
    states.append(state())
    enable_safe_checkpoints()
    states.append(state())
    print(json.dumps(dict(states=states, allowed=sorted(map(str, ALLOWED_GLOBALS)))))
""")

#: what the entry points and the configs' custom_imports import
_PACKAGES = ['backbones', 'engine', 'engine.checkpoint', 'engine.launch', 'pretrain', 'transfer',
             'synthetic', 'suite', 'figures', 'figures.checkpoint_regions', 'benchmarks']


def test_importing_the_packages_changes_nothing_until_enabled():
    """No allowlist, no atomic backend, no suite loader after the imports; all three after
    enable_safe_checkpoints(), and the same after a second call."""
    proc = subprocess.run([sys.executable, '-c', _STATE_SCRIPT, *_PACKAGES], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    fresh, imported, enabled, again = found['states']
    allowed = set(found['allowed'])
    for state in (fresh, imported):  # mmengine's own backend and loader, none of the allowlist
        assert (state['local_backend'], state['loader']) == ('LocalBackend', 'torch')
        # (torch adds safe globals of its own as its modules load, torch._dynamo's among them)
        assert not allowed & set(state['safe_globals'])
    assert (enabled['local_backend'], enabled['loader']) == ('AtomicLocalBackend', 'suite')
    assert allowed <= set(enabled['safe_globals'])
    assert again == enabled  # idempotent
