"""Checkpoints load with weights_only=True through the allowlist; anything else is refused."""
import builtins
import collections
import os
import pickle

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner import CheckpointLoader, Runner
from mmengine.testing.runner_test_case import ToyDataset, ToyMetric, ToyModel

import backbones  # noqa: F401  (installs the allowlist)


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
    (builtins.getattr(os, 'getcwd'), 'posix.getcwd'),
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
