"""The Runner's iteration against the bare step (``tools/benchmark_pretrain.py --runner``).

One run of ``tools/train.py``'s Runner on a pretraining config (its hooks, logging and data loader,
reading real JPEG photographs from a temporary folder) in which a timing hook, after every block of
``steps`` timed iterations, runs the bare step (:func:`benchmarks.step_timing.make_step`) of a model
built from the same config over the same batches, drawn beforehand from a loader built from the same
``train_dataloader``, on the device. Runner and bare step thus alternate under the same machine
load. The report gives both in ms per iteration, the Runner's overhead in ms and as a ratio, and how
much of a Runner iteration passed before its step began (waiting for the data loader, the hooks'
``before_train_iter``); on CPU also the Runner's logging and other iterations apart. It counts the
times the host waits for the device in ``log_interval + 1`` more iterations after the timed ones,
for logging and other iterations apart, and in the bare step: on a GPU the synchronisations that
``torch.cuda.set_sync_debug_mode('warn')`` reports, on CPU the reads of device values that would
wait on one (:class:`benchmarks.host_reads.HostReadCounter`), each from the iteration's last
before-hook to its last after-hook (the data preprocessor, the step and every after-hook).
Checkpoints are not written during the benchmark and the kNN monitor is left out."""
import os
import os.path as osp
import statistics
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import MODELS
from mmengine.runner import Runner

from engine.visualization import apply_logging_switches
from pretrain.hooks import PretrainRuntimeInfoHook
from benchmarks.data import make_photos
from benchmarks.devices import describe_device, sync
from benchmarks.host_reads import HostReadCounter
from benchmarks.step_timing import make_step

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the default config: ViT-B/16 (the configs' step) on a GPU, the tiny suite encoder on CPU
CONFIGS = {'cuda': osp.join(ROOT, 'configs', 'pretrain', 'ijepa_vitb16_in1k.py'),
           'cpu': osp.join(ROOT, 'configs', 'pretrain', 'ijepa_vittiny_synthclevr.py')}
UNIQUE_PHOTOS = 256  # distinct JPEGs written; the folder holds links to them up to the count needed


def photo_folder(root: str, count: int, unique: int = UNIQUE_PHOTOS, seed: int = 0) -> None:
    """``count`` real JPEG photographs in ``root/train/<class>/``: ``unique`` of them written by
    :func:`benchmarks.data.make_photos`, the rest hard links to them (one epoch of a long run
    without writing every file)."""
    make_photos(root, min(count, unique), seed)
    files = sorted(osp.join(d, f)
                   for d, _, names in os.walk(osp.join(root, 'train')) for f in names)
    for i in range(len(files), count):
        source = files[i % len(files)]
        os.link(source, osp.join(osp.dirname(source), f'link{i:07d}.JPEG'))


def runner_config(config: str, data_root: str, work_dir: str, batch: int, workers: int,
                  iterations: int, log_interval: int) -> Config:
    """``config`` set up for the benchmark: the photo folder, ``batch`` per process, ``workers``
    data workers, at least ``iterations`` iterations in one epoch, a log line every
    ``log_interval`` iterations, the schedulers fitted into them, no checkpoint written and no kNN
    monitor."""
    cfg = Config.fromfile(config)
    loader = cfg.train_dataloader
    loader.batch_size = batch
    loader.num_workers = workers
    loader.persistent_workers = workers > 0
    loader.dataset.data_root = data_root
    loader.dataset.split = 'train'
    epochs = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [fit_scheduler(s, epochs, iterations) for s in cfg.param_scheduler]
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.checkpoint.interval = iterations + 1
    cfg.default_hooks.checkpoint.save_last = False
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'KNNMonitorHook']
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    cfg.launcher = 'none'
    return apply_logging_switches(cfg)


def fit_scheduler(scheduler: dict, epochs: int, iterations: int) -> dict:
    """A scheduler of a run of ``epochs`` epochs stretched over ``iterations`` iterations."""
    scheduler = dict(scheduler, by_epoch=False)
    scheduler.pop('convert_to_iter_based', None)
    scale = iterations / epochs
    scheduler['begin'] = min(int(scheduler.get('begin', 0) * scale), iterations - 1)
    end = scheduler.get('end')
    scheduler['end'] = iterations if end is None else \
        min(max(int(end * scale), scheduler['begin'] + 1), iterations)
    return scheduler


def draw_batches(cfg: Config, model: torch.nn.Module, start: int, count: int) -> List[tuple]:
    """The ``count`` batches of steps ``start``, ... that the Runner's loader yields, from a loader
    built from the same ``train_dataloader`` (crops and masks are seeded by the step), each through
    the model's data preprocessor: (images on the device, masks on the device)."""
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=cfg.randomness.seed)
    loader.batch_sampler.set_start_step(start)
    batches = []
    for data in loader:
        data = model.data_preprocessor(data, True)
        batches.append((data['inputs'], data['data_samples']))
        if len(batches) == count:
            break
    return batches


class _CountSyncs:
    """Counts the device synchronisations that ``torch.cuda.set_sync_debug_mode('warn')`` reports
    while it is entered."""

    def __enter__(self) -> '_CountSyncs':
        self.catch = warnings.catch_warnings(record=True)
        self.records = self.catch.__enter__()
        warnings.simplefilter('always')  # every sync, not once per place
        torch.cuda.set_sync_debug_mode('warn')
        return self

    def __exit__(self, *exc) -> None:
        torch.cuda.set_sync_debug_mode('default')
        self.catch.__exit__(*exc)
        self.count = sum('synchroniz' in str(w.message) for w in self.records)


def count_host_waits(device: torch.device):
    """A context counting the host's waits for ``device`` (``count`` once left): the sync debug
    mode's reports on a GPU, :class:`~benchmarks.host_reads.HostReadCounter` elsewhere."""
    return _CountSyncs() if device.type == 'cuda' else HostReadCounter()


class AlternatingTimer(Hook):
    """Times the Runner's iterations and, after each block of them, the bare step over the batches
    of that block (see the module's docstring). Runs after every other hook of an iteration."""

    priority = 'LOWEST'

    def __init__(self, bare: Callable[[int, tuple], None], batches: List[tuple],
                 device: torch.device, warmup: int, steps: int, repeats: int,
                 count_iters: int) -> None:
        self.bare, self.batches, self.device = bare, batches, device
        self.warmup, self.steps, self.repeats = warmup, steps, repeats
        self.count_iters = count_iters
        self.runner_blocks: List[float] = []  # seconds per iteration, each block
        self.bare_blocks: List[float] = []
        self.iteration: Dict[int, float] = {}  # host seconds of each timed iteration
        self.waited: Dict[int, float] = {}  # of which before its step began (the data loader)
        self.logging: Dict[int, bool] = {}
        self.syncs: Dict[int, int] = {}  # host waits of the counted iterations
        self.bare_syncs: List[int] = []
        self.counter = None  # count_host_waits while an iteration is counted
        self.mark = self.block_start = 0.0

    @property
    def timed_end(self) -> int:
        return self.warmup + self.steps * self.repeats

    def _run_bare(self, block: int) -> float:
        batches = self.batches[block * self.steps:(block + 1) * self.steps]
        sync(self.device)
        start = time.perf_counter()
        for i, batch in enumerate(batches):
            self.bare(self.warmup + block * self.steps + i, batch)
        sync(self.device)
        return (time.perf_counter() - start) / len(batches)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.warmup <= runner.iter < self.timed_end:  # the loader's next() and before-hooks
            self.waited[runner.iter] = time.perf_counter() - self.mark
        elif self.timed_end <= runner.iter < self.timed_end + self.count_iters:
            self.counter = count_host_waits(self.device).__enter__()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        i = runner.iter
        now = time.perf_counter()
        if self.counter is not None:
            self.counter.__exit__(None, None, None)
            self.syncs[i] = self.counter.count
            self.logging[i] = PretrainRuntimeInfoHook.reads_host(runner, batch_idx)
            self.counter = None
        elif self.warmup <= i < self.timed_end:
            self.iteration[i] = now - self.mark
            self.logging[i] = PretrainRuntimeInfoHook.reads_host(runner, batch_idx)
        if i == self.warmup - 1:  # warm the bare step up on the first block's batches
            self._run_bare(0)
            sync(self.device)
            self.block_start = time.perf_counter()
        elif self.warmup <= i < self.timed_end and (i + 1 - self.warmup) % self.steps == 0:
            sync(self.device)
            self.runner_blocks.append((time.perf_counter() - self.block_start) / self.steps)
            self.bare_blocks.append(self._run_bare(len(self.bare_blocks)))
            if i + 1 == self.timed_end and self.count_iters:
                for batch_index in range(min(3, self.steps)):
                    with count_host_waits(self.device) as counter:
                        self.bare(self.warmup + batch_index, self.batches[batch_index])
                    self.bare_syncs.append(counter.count)
            sync(self.device)
            self.block_start = time.perf_counter()
        self.mark = time.perf_counter()

    def after_train(self, runner) -> None:
        if self.counter is not None:
            self.counter.__exit__(None, None, None)
            self.counter = None


def benchmark_runner(config: Optional[str], batch: int, steps: int, repeats: int, warmup: int,
                     workers: Optional[int], log_interval: Optional[int],
                     work_dir: Optional[str] = None) -> Dict[str, float]:
    """Run the Runner against the bare step and print the report; returns its numbers (ms)."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    warmup = max(warmup, 1)  # the bare step warms up after the Runner's warm-up
    config = config or CONFIGS[device.type]
    base = Config.fromfile(config)
    workers = base.train_dataloader.num_workers if workers is None else workers
    log_interval = log_interval or base.default_hooks.logger.interval
    count_iters = log_interval + 1  # a logging iteration and at least one other
    iterations = warmup + steps * repeats + count_iters
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        data_root = osp.join(tmp, 'photos')
        start = time.perf_counter()
        photo_folder(data_root, batch * iterations)  # one epoch
        cfg = runner_config(config, data_root, osp.join(tmp, 'work'), batch, workers, iterations,
                            log_interval)
        print(f'{osp.relpath(config, ROOT)}: batch {batch}, {workers} data workers, '
              f'a log line every {log_interval} iterations, {describe_device(device)}; '
              f'{batch * iterations} JPEG photos written in {time.perf_counter() - start:.1f} s')
        runner = Runner.from_cfg(cfg)  # as tools/train.py builds it
        torch.manual_seed(cfg.randomness.seed)
        bare_model = MODELS.build(cfg.model).to(device)  # the same class and arguments
        batches = draw_batches(cfg, bare_model, warmup, steps * repeats)
        step = make_step(bare_model, device, fused=True)
        total = runner.train_loop.max_iters

        def bare(index: int, batch: tuple) -> None:
            bare_model.set_progress(index, total)  # as TrainingProgressHook does
            step(*batch)
        timer = AlternatingTimer(bare, batches, device, warmup, steps, repeats, count_iters)
        runner.register_hook(timer)
        start = time.perf_counter()
        runner.train()
        wall = time.perf_counter() - start
    return report(timer, device, wall)


def report(timer: AlternatingTimer, device: torch.device, wall: float) -> Dict[str, float]:
    """Print the per-iteration times of both, the overhead, and the host's waits per iteration."""
    runner_ms = statistics.median(timer.runner_blocks) * 1e3
    bare_ms = statistics.median(timer.bare_blocks) * 1e3
    waited = statistics.mean(timer.waited.values()) * 1e3
    result = dict(runner_ms=runner_ms, bare_ms=bare_ms, overhead_ms=runner_ms - bare_ms,
                  ratio=runner_ms / bare_ms, data_wait_ms=waited)
    print(f'  median of {timer.repeats} blocks x {timer.steps} iterations, alternated; '
          f'{wall:.1f} s in runner.train()')
    print(f'  runner   {runner_ms:9.1f} ms/iteration')
    print(f'  bare     {bare_ms:9.1f} ms/step')
    print(f'  overhead {runner_ms - bare_ms:9.1f} ms/iteration, ratio x{runner_ms / bare_ms:.3f}')
    print(f'  of a runner iteration, before its step (data loader, before-hooks): {waited:.1f} ms '
          '(mean); '
          f'overhead without it {runner_ms - bare_ms - waited:.1f} ms, '
          f'x{(runner_ms - waited) / bare_ms:.3f}')
    if device.type != 'cuda':  # the host's time per iteration is the iteration's time
        for name, logs in (('logging', True), ('other', False)):
            times = [t for i, t in timer.iteration.items() if timer.logging[i] == logs]
            if times:
                result[f'{name}_ms'] = statistics.mean(times) * 1e3
                print(f'  runner {name} iterations: {len(times)}, '
                      f'{statistics.mean(times) * 1e3:.1f} ms mean')
    waits = 'syncs' if device.type == 'cuda' else 'host reads of device values'
    for name, logs in (('logging', True), ('other', False)):
        counts = [c for i, c in timer.syncs.items() if timer.logging[i] == logs]
        if counts:
            result[f'syncs_{name}'] = statistics.mean(counts)
            print(f'  {waits} per runner iteration, {name} ({len(counts)} iterations): mean '
                  f'{statistics.mean(counts):.1f}, min {min(counts)}, max {max(counts)}')
    if timer.bare_syncs:
        result['syncs_bare'] = statistics.mean(timer.bare_syncs)
        print(f'  {waits} per bare step (inside the model step, the Runner has them too): '
              f'{timer.bare_syncs}')
    return result

