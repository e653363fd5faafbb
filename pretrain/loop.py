"""The pretraining loop: :class:`PretrainLoop`, an iteration loop sized in epochs whose resume
repositions the batch sampler instead of re-reading every batch already trained on."""
from typing import Iterator, Union

import torch
from mmengine.registry import LOOPS
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

__all__ = ['PretrainLoop']


class _SkipTrained:
    """Answers the loop's replay of already-trained steps without loading any data."""

    def __init__(self, iterator: Iterator, skip: int) -> None:
        self.iterator, self.skip = iterator, skip

    def __iter__(self) -> '_SkipTrained':
        return self

    def __next__(self):
        if self.skip:
            self.skip -= 1
            return None
        return next(self.iterator)


@LOOPS.register_module()
class PretrainLoop(IterBasedTrainLoop):
    """``max_epochs`` epochs of iteration-based training with
    :class:`~pretrain.data.StepBatchSampler`.

    On resume at step k the batch sampler starts at step k directly, so the data seen from then on
    is exactly that of an uninterrupted run and nothing before it is read again. When training
    ends, persistent data workers are stopped.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, dict], max_epochs: int,
                 val_begin: int = 1, val_interval: int = 1000) -> None:
        if isinstance(dataloader, dict):
            dataloader = runner.build_dataloader(dataloader, seed=runner.seed)
        if not hasattr(dataloader.batch_sampler, 'set_start_step'):
            raise TypeError("PretrainLoop needs batch_sampler=dict(type='StepBatchSampler')")
        super().__init__(runner, dataloader, max_iters=max_epochs * len(dataloader),
                         val_begin=val_begin, val_interval=val_interval)
        self._max_epochs = max_epochs

    def run_iter(self, data_batch) -> None:
        """One iteration, with the epoch it belongs to set for logs and checkpoint meta."""
        self._epoch = self._iter // len(self.dataloader)
        super().run_iter(data_batch)

    def run(self) -> torch.nn.Module:
        """Train from the current iteration to the end; stop the persistent workers after."""
        if self._iter:
            # The iterator made before the resume already started at step 0: make a new one.
            self.dataloader.batch_sampler.set_start_step(self._iter)
            self.dataloader_iterator = _SkipTrained(
                _InfiniteDataloaderIterator(self.dataloader), self._iter)
        try:
            return super().run()
        finally:
            self._stop_persistent_workers()

    def _stop_persistent_workers(self) -> None:
        # With pin_memory, torch registers an exit handler that waits 5 s for each persistent
        # worker, which was never told to stop: 10 workers kept a finished run alive for 50 s on
        # an H200.
        iterator = getattr(self.dataloader, '_iterator', None)
        if iterator is not None:
            iterator._shutdown_workers()
            self.dataloader._iterator = None
