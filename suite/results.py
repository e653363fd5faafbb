"""Read what mmengine wrote for a set of transfer runs into the leaderboard's table of values.

Every run is described by the config mmengine saved with it (``<run>/vis_data/config.py``), never by
folder names: the pretraining method (``pretrain_method``), the encoder size, the seed
(``randomness.seed``) and what it reports (``report``: its task, the logged metrics with their row
labels and factors, the method's protocol readout). Its numbers are the last evaluation it logged:
test results (``tools/test.py``) where there are some, else the last validation; the per-image
records in the same run folder (``engine.records``) belong to that evaluation, and re-compute each
number on resamples of its images for the leaderboard's intervals. The encoder file a run started
from (``model.backbone.init_cfg.checkpoint``) is named with its sha256 (:func:`encoder_files`).
"""
import glob
import json
import math
import os
import os.path as osp
import warnings
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from engine.config_data import read_config_file
from engine.records import Record, RecordsError, file_sha256, read_records
from suite.methods import METHODS, Method
from suite.significance import Metric, metric_of

#: (size, task, metric) -> method -> values, one per seed
Table = Dict[Tuple[str, str, str], Dict[str, List[float]]]
_ARCHS = {'s': 'S', 'b': 'B', 'l': 'L', 'h': 'H'}
_REPORT_KEYS = ('task', 'metrics')
#: the repo root, where the runner runs every stage: relative checkpoint paths start there
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the record the runner leaves in a stage's folder when the stage is done (what it ran, with what)
DONE = 'suite_stage.json'
#: the weights files of a Hugging Face/timm model folder, in the order the suite reads them
#: (``backbones.weights.FOLDER_WEIGHTS``, which imports torch: a test keeps the two equal)
FOLDER_WEIGHTS = ('model.safetensors', 'pytorch_model.bin')
#: the encoder cell of a run whose encoder was never pretrained
NO_CHECKPOINT = 'none (random init)'


class MetricStyle(NamedTuple):
    """How the leaderboard reads a row: whether lower values are better (an error such as depth
    RMSE: the verdicts and differences turn round) and the decimals its values are printed with.
    A config declares both in its ``report`` (``lower_is_better``: row labels; ``decimals``: row
    label -> digits); a row it does not name is higher-is-better with one decimal."""
    lower_is_better: bool = False
    decimals: int = 1


#: (task, metric) -> how the leaderboard reads that row
Styles = Dict[Tuple[str, str], MetricStyle]


class RunRecords(NamedTuple):
    """One run's per-image records of a table row: the run folder (to name it), the pairing keys of
    its images, their identity (``engine.records.Record.identity``: None where the keys do not
    identify the images) and its metric of per-image counts in the row's units (the logged value x
    factor; building it raises ``engine.records.RecordsError`` where the records cannot be
    evaluated, e.g. a COCO ground truth moved since)."""
    run: str
    keys: np.ndarray
    identity: Optional[str]
    metric: Metric


#: (size, task, metric) -> method -> per seed (aligned with the table's values), the run's records
#: or None where it wrote none
Records = Dict[Tuple[str, str, str], Dict[str, List[Optional[RunRecords]]]]


class Results(NamedTuple):
    """The values of a set of work dirs, per task each method's protocol readout (a row label), the
    per-image records behind the values, per task each method's model selection (which checkpoint
    or head it reports and how it was chosen), each run's (method, size, task, saved config) and
    how each row is read (its direction and decimals, from the reports)."""
    table: Table
    protocols: Dict[str, Dict[str, str]]
    records: Records
    selections: Dict[str, Dict[str, str]]
    runs: List[Tuple[str, str, str, dict]]
    styles: Styles


def run_dirs(work_dir: str) -> List[str]:
    """The run folders (``<work_dir>/<timestamp>``) with a saved config, oldest first."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir not found: {work_dir}')
    found = sorted(osp.dirname(osp.dirname(p))
                   for p in glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py')))
    if not found:
        raise FileNotFoundError(f'{work_dir} holds no run (expected <timestamp>/vis_data/'
                                'config.py, as mmengine writes them)')
    return found


def run_of(config_path: str) -> str:
    """The run folder of its saved config (``<run>/vis_data/config.py``)."""
    return osp.dirname(osp.dirname(config_path))


def saved_config(run: str) -> Tuple[dict, str]:
    """The config mmengine saved with a run, and its path; read as data
    (:func:`engine.config_data.read_config_file`): nothing in it runs, not even the imports its
    ``custom_imports`` names."""
    path = osp.join(run, 'vis_data', 'config.py')
    return read_config_file(path), path


def report_of(config: dict, source: str) -> dict:
    """The config's ``report`` declaration, checked for the keys the leaderboard needs."""
    report = config.get('report')
    if not isinstance(report, dict):
        raise KeyError(f"{source} has no 'report': every transfer config declares what it reports, "
                       "report = dict(task=..., metrics={logged key: (row label, factor)}, "
                       'protocol=...)')
    for key in _REPORT_KEYS:
        if not report.get(key):  # a base config's placeholder (None) that no child filled in
            raise KeyError(f'{source}: report.{key} is not set')
    return report


def styles_of(report: dict, source: str) -> Dict[str, MetricStyle]:
    """Row label -> its :class:`MetricStyle`, from a report's ``lower_is_better`` and
    ``decimals``; an error naming ``source`` where they name a row the report does not have."""
    lower = tuple(report.get('lower_is_better') or ())
    decimals = dict(report.get('decimals') or {})
    labels = [label for label, _ in report['metrics'].values()]
    unknown = sorted((set(lower) | set(decimals)) - set(labels))
    if unknown:
        raise KeyError(f'{source}: report.lower_is_better / report.decimals name {unknown}, which '
                       f'are not rows of report.metrics ({labels})')
    return {label: MetricStyle(label in lower, int(decimals.get(label, 1))) for label in labels}


def describe(config: dict, source: str) -> Tuple[str, str, str, int]:
    """(method, size, task, seed) of a run from its config."""
    method = config.get('pretrain_method')
    if method not in METHODS:
        raise KeyError(f'{source}: pretrain_method is {method!r}; the suite configs set one of '
                       f'{sorted(METHODS)}')
    backbone = config['model']['backbone']
    arch = _ARCHS.get(backbone.get('arch', 'b'), backbone.get('arch'))
    if backbone.get('embed_dim') or backbone.get('depth'):
        arch = f"{backbone.get('embed_dim')}x{backbone.get('depth')}"
    size = f"ViT-{arch}/{backbone.get('patch_size', 16)}"
    task = report_of(config, source)['task']
    return method, size, task, int(config.get('randomness', {}).get('seed', 0))


def read_json_lines(path: str) -> List[dict]:
    """The records of an mmengine json log, one JSON object a line. An unreadable last line is what
    a run killed while writing leaves: it is skipped with a warning naming the file. An unreadable
    line before it is an error naming the file and the line."""
    with open(path, errors='replace') as f:  # bytes that are not text fail below, line named
        lines = [(number, line) for number, line in enumerate(f, 1) if line.strip()]
    records = []
    for i, (number, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            where = f'{path}, line {number}'
            if i < len(lines) - 1:
                raise ValueError(f'{where} is not JSON ({err}); only a last line cut off by a '
                                 'killed run is skipped') from err
            warnings.warn(f'{where} is cut off (the run was killed while writing it?): skipped',
                          stacklevel=2)
    return records


def leaderboard_metrics(logged: dict, report: dict) -> Dict[str, float]:
    """The logged metrics a run reports -> the leaderboard's rows (scaled by their factors)."""
    return {label: factor * logged[key] for key, (label, factor) in report['metrics'].items()
            if key in logged}


@dataclass(frozen=True, eq=False)
class PerImage:
    """One logged metric of one evaluation: the pairing keys of its images, the value it logged,
    its metric of per-image counts (built on first use: COCO's needs a COCOeval) and the identity
    of its keys (None where they do not identify the images)."""
    keys: np.ndarray
    value: float
    build: Callable[[], Metric]
    identity: Optional[str] = None

    @cached_property
    def metric(self) -> Metric:
        """Per-image counts (one per key) -> the metric in the logged units."""
        return self.build()


def _metric_of(run_dir: str, key: str, record: Record) -> Metric:
    """A record's metric; a ``RecordsError`` naming the run, the key and the file at fault where
    what it refers to cannot be read (a COCO ground truth or detections moved, changed or
    broken)."""
    try:
        return metric_of(record)
    except (OSError, ValueError) as err:
        raise RecordsError(f'{run_dir}: the records of {key} cannot be evaluated: {err}') from err


def run_records(run_dir: str) -> Dict[str, PerImage]:
    """Logged key -> its per-image records, of the evaluation in a run folder (see
    ``engine.records``); empty where the run wrote none. Records that cannot be read are left out
    with a warning naming their file."""
    return {key: PerImage(record.keys, record.value, partial(_metric_of, run_dir, key, record),
                          record.identity)
            for key, record in read_records(run_dir).items()}


def _scaled(record: PerImage, factor: float) -> Metric:
    """A record's metric in a row's units."""
    return lambda counts: factor * record.metric(counts)


def records_of(run: str, report: dict, metrics: Dict[str, float]) -> Dict[str, RunRecords]:
    """Row label -> the records of a run's reported metric, for the rows in ``metrics`` (the values
    read from its logs). A record whose value is not the logged one belongs to another evaluation
    (a log cut off by a kill): it is left out with a warning."""
    found, out = run_records(run), {}
    for key, (label, factor) in report['metrics'].items():
        record = found.get(key)
        if record is None or label not in metrics:
            continue
        if not math.isclose(factor * record.value, metrics[label], rel_tol=1e-9, abs_tol=1e-12):
            warnings.warn(f'{run}: the records of {key} hold {record.value}, the log '
                          f'{metrics[label] / factor}: not the same evaluation, no interval',
                          stacklevel=2)
            continue
        out[label] = RunRecords(run, record.keys, record.identity, _scaled(record, factor))
    return out


def _evaluations(path: str, report: dict) -> List[Dict[str, float]]:
    """The reported metrics of each row of an mmengine json log that holds some."""
    if not osp.exists(path):
        return []
    return [m for m in (leaderboard_metrics(r, report) for r in read_json_lines(path)) if m]


def result_of(work_dir: str) -> Tuple[Optional[Tuple[dict, str]], Dict[str, float]]:
    """The saved config (and its path) of the run whose numbers stand for a work dir, and those
    numbers: its last test (``tools/test.py`` writes ``<run>/<run>.json``), else its last
    validation; ``(None, {})`` before any evaluation."""
    tested, validated = [], []
    for run in run_dirs(work_dir):
        stamp = osp.basename(run)
        saved = saved_config(run)
        report = report_of(*saved)
        tested += [(saved, m) for m in _evaluations(osp.join(run, f'{stamp}.json'), report)]
        validated += [(saved, m) for m in _evaluations(osp.join(run, 'vis_data', 'scalars.json'),
                                                       report)]
    chosen = tested or validated
    return chosen[-1] if chosen else (None, {})


def protocol_of(method: Method, report: dict) -> Optional[str]:
    """The reported row a method's protocol reads on a task (None without one: COCO, ADE20K). A
    compared method's is its config's ``report.protocol``. A baseline runs on another method's
    configs, whose protocol is that method's: a baseline's is that row read with the baseline's
    own declared readout where the task reports it (``top-1 block 6 cls`` for ``top-1 block 6
    avg``), else the first row of that readout (``top-1 avg`` for MAE, where its published numbers
    stand), else the config's."""
    declared = report.get('protocol')
    if method.compared or method.readout is None:
        return declared
    labels = [label for label, _ in report['metrics'].values()
              if label.split()[-1] == method.readout]
    same_row = declared and ' '.join(declared.split()[:-1] + [method.readout])
    return same_row if same_row in labels else next(iter(labels), declared)


def evaluated_runs(work_dirs: Iterable[str]) -> Iterator[Tuple[str, dict, str, dict]]:
    """``(work_dir, config, path, metrics)`` of each work dir's evaluation (:func:`result_of`); a
    work dir without one is named in a note and left out."""
    for work_dir in work_dirs:
        saved, metrics = result_of(work_dir)
        if saved is None:
            print(f'note: {work_dir} has no evaluation yet; its cells stay missing')
            continue
        yield (work_dir, *saved, metrics)


def collect(work_dirs: Iterable[str]) -> Results:
    """The values of the work dirs, one per seed, tasks in their order of first appearance, and
    their records. Two work dirs of the same method, size, task and seed are an error: neither may
    silently stand for the other."""
    by_seed: Dict[Tuple[str, str, str], Dict[str, Dict[int, Tuple[float, Optional[RunRecords]]]]] \
        = defaultdict(lambda: defaultdict(dict))
    protocols: Dict[str, Dict[str, str]] = defaultdict(dict)
    selections: Dict[str, Dict[str, str]] = defaultdict(dict)
    runs: List[Tuple[str, str, str, dict]] = []
    styles: Styles = {}
    work_dir_of: Dict[Tuple[str, str, str, int], str] = {}
    for work_dir, config, path, metrics in evaluated_runs(work_dirs):
        method, size, task, seed = identity = describe(config, path)
        first = work_dir_of.setdefault(identity, work_dir)
        if osp.realpath(first) != osp.realpath(work_dir):
            raise ValueError(f'{first} and {work_dir} are both {METHODS[method].label} {size} '
                             f'{task} with seed {seed}, and the table keeps one result per seed: '
                             'give each run its own randomness.seed (--cfg-options '
                             'randomness.seed=N), or pass only one of them')
        protocol = protocol_of(METHODS[method], config['report'])
        if protocol:
            protocols[task].setdefault(method, protocol)
        selections[task].setdefault(method, config['report'].get('selection') or 'missing')
        runs.append((method, size, task, config))
        for label, style in styles_of(config['report'], path).items():
            if styles.setdefault((task, label), style) != style:
                raise ValueError(f'{path} reads {task} {label} as {style}, another run of the '
                                 f'task as {styles[(task, label)]}: one row, one reading')
        found = records_of(run_of(path), config['report'], metrics)
        for metric, value in metrics.items():
            by_seed[(size, task, metric)][method][seed] = (value, found.get(metric))
    table = {key: {method: [v for v, _ in seeds.values()] for method, seeds in methods.items()}
             for key, methods in by_seed.items()}
    records = {key: {method: [r for _, r in seeds.values()] for method, seeds in methods.items()}
               for key, methods in by_seed.items()}
    return Results(table, dict(protocols), records, dict(selections), runs, styles)


def labelled_paths(pairs: Iterable[str]) -> Dict[str, str]:
    """``LABEL=PATH`` arguments -> {label: path}, in order; a pair without a label, or a label given
    twice, is an error naming it."""
    out = {}
    for pair in pairs:
        label, sep, path = pair.partition('=')
        if not (sep and label and path):
            raise ValueError(f'expected LABEL=PATH, got {pair!r}')
        if label in out:
            raise ValueError(f'label {label!r} given twice ({out[label]}, {path})')
        out[label] = path
    return out


@lru_cache(maxsize=None)
def _sha256(real_path: str, size: int, mtime_ns: int) -> str:
    """A file's sha256, hashed once per process while its size and time stay what they were
    (``size`` and ``mtime_ns`` key the cache: a file rewritten since is hashed again)."""
    return file_sha256(real_path)


def file_digest(path: str) -> str:
    """The sha256 of a file's bytes, read in chunks; the runs of one file (a 2.5 GB ViT-H) hash it
    once."""
    real = osp.realpath(path)
    stat = os.stat(real)
    return _sha256(real, stat.st_size, stat.st_mtime_ns)


def encoder_file(checkpoint: Optional[str]) -> str:
    """A run's encoder file as ``<name> (<first 12 hex digits of its sha256>)``: a relative path
    from the repo root, a folder (a timm model folder) by its weights file; ``missing file <name>``
    where it is gone, ``none (random init)`` without a checkpoint."""
    if not checkpoint:
        return NO_CHECKPOINT
    path = checkpoint if osp.isabs(checkpoint) else osp.join(ROOT, checkpoint)
    name = osp.basename(osp.normpath(path))
    if osp.isdir(path):
        weights = next((w for w in FOLDER_WEIGHTS if osp.isfile(osp.join(path, w))),
                       FOLDER_WEIGHTS[0])
        path, name = osp.join(path, weights), f'{name}/{weights}'
    if not osp.isfile(path):
        return f'missing file {name}'
    return f'{name} ({file_digest(path)[:12]})'


def encoder_files(runs: Iterable[Tuple[str, str, str, dict]]) -> Dict[str, Dict[str, str]]:
    """Size -> method -> the encoder file(s) of its runs (``Results.runs``), read from the saved
    configs' ``model.backbone.init_cfg.checkpoint``; distinct files (seeds) joined by '; '."""
    found: Dict[str, Dict[str, Dict[str, None]]] = defaultdict(lambda: defaultdict(dict))
    for method, size, _task, config in runs:
        init = config['model']['backbone'].get('init_cfg') or {}
        found[size][method][encoder_file(init.get('checkpoint'))] = None
    return {size: {method: '; '.join(files) for method, files in by.items()}
            for size, by in found.items()}
