"""Kill a real pretraining run at every point of a checkpoint save and resume it: it must end with
exactly the weights of a run that was never interrupted, whatever the kill left on disk."""
import os

import pytest
import torch

from tests.helpers import checkpoint_tensors, config_with_hooks, run_pretraining

# 4 steps an epoch on the 64 synthetic images (one unreadable), a checkpoint every 2 steps, and only
# one kept, the setting where deleting the old checkpoint too early loses everything.
COMMON = ('train_cfg.max_epochs=3', 'default_hooks.checkpoint.interval=2',
          'default_hooks.checkpoint.max_keep_ckpts=1')

#: (point, save of the killed process, complete checkpoints left, what --resume continues from)
KILLS = [
    ('inside_checkpoint', 2, ['iter_2.pth'], 'iter_2.pth'),   # the old one is still there
    ('after_checkpoint', 1, ['iter_2.pth', 'iter_4.pth'], 'iter_4.pth'),  # pointer one behind
    ('inside_pointer', 1, ['iter_4.pth', 'iter_6.pth'], 'iter_6.pth'),  # orphan iter_2 removed
    ('after_pointer', 1, ['iter_6.pth', 'iter_8.pth'], 'iter_8.pth'),
    ('before_save', 1, ['iter_8.pth'], 'iter_8.pth'),
    ('after_remove', 1, ['iter_10.pth'], 'iter_10.pth'),
]


def _checkpoints(work_dir):
    return sorted((f for f in os.listdir(work_dir) if f.startswith('iter_')),
                  key=lambda f: int(f[5:-4]))


@pytest.mark.slow
def test_a_run_killed_anywhere_in_a_save_resumes_bit_exactly(synthetic_imagenet, tmp_path):
    from engine.resume import latest_checkpoint
    run_pretraining(tmp_path / 'straight', synthetic_imagenet, *COMMON)
    work = tmp_path / 'killed'
    for point, save, left, resumes_from in KILLS:
        hook = config_with_hooks(tmp_path,
                                 f"dict(type='KillInSaveHook', point={point!r}, save={save})")
        proc = run_pretraining(work, synthetic_imagenet, *COMMON, config=hook, check=False,
                               args=['--resume'] if os.path.exists(work) else [])
        assert proc.returncode == -9, (point, proc.stderr[-2000:])
        assert _checkpoints(work) == left, point
        assert latest_checkpoint(str(work)) == str(work / resumes_from), point
    resumed = run_pretraining(work, synthetic_imagenet, *COMMON, args=['--resume'])
    assert 'resumed epoch: 2, iter: 10' in resumed.stdout + resumed.stderr
    assert _checkpoints(work) == ['iter_12.pth']
    assert not [f for f in os.listdir(work) if f.startswith('.tmp_')]  # leftovers cleaned
    straight = checkpoint_tensors(tmp_path / 'straight' / 'iter_12.pth')
    again = checkpoint_tensors(work / 'iter_12.pth')
    assert straight.keys() == again.keys()
    for name in straight:
        assert torch.equal(straight[name], again[name]), name


def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    """What mmengine's plain writes and a kill leave: an empty pointer, a truncated checkpoint."""
    from engine.resume import POINTER, latest_checkpoint
    assert latest_checkpoint(str(tmp_path)) is None  # a new work dir
    (tmp_path / POINTER).write_text('')
    with pytest.warns(UserWarning, match='is empty: no complete checkpoint is left'):
        assert latest_checkpoint(str(tmp_path)) is None
    for step in (3, 6, 9):
        torch.save({'step': step}, tmp_path / f'iter_{step}.pth')
    (tmp_path / 'iter_12.pth').write_bytes((tmp_path / 'iter_9.pth').read_bytes()[:100])
    with pytest.warns(UserWarning, match='is empty: resuming from the newest complete checkpoint'):
        assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_9.pth')
    (tmp_path / POINTER).write_text(str(tmp_path / 'iter_12.pth'))
    with pytest.warns(UserWarning, match='iter_12.pth, which is missing or incomplete'):
        assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_9.pth')
    (tmp_path / POINTER).write_text(str(tmp_path / 'iter_9.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_9.pth')
