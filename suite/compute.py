"""Compute beside accuracy: what each method's encoder costs to run and what its pretraining cost.

``encoder_cost`` counts the parameters of a transfer config's backbone and its inference GFLOPs per
image at the task's input size (``report.input_size``), one multiply-add counted as one FLOP as
fvcore and the papers count them (timm's ViT-B/16 at 224: 17.6), attention's matrix products
included. ``pretraining_cost`` reads the logs mmengine wrote beside the pretraining checkpoint the
encoder was initialised from. ``compute_table`` puts both into one row per encoder size and method.
"""
import functools
import importlib
import json
import os.path as osp
import re
import statistics
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from engine.config_data import check_registered
from suite.results import DONE, read_json_lines, run_dirs, saved_config

#: a cell whose value is unknown, and a random-init encoder's pretraining (there was none)
MISSING, NO_PRETRAINING = 'missing', '-'
#: mmengine's text log: a timestamped record, the world size and the device of its env info
_STAMP = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) - ', re.M)
_WORLD = re.compile(r'^\s*GPU number: (\d+)\s*$', re.M)
_CUDA = re.compile(r'^\s*CUDA available: (True|False)\s*$', re.M)
_GPUS = re.compile(r'^\s*GPU ([\d,]+): (.+?)\s*$', re.M)
_COST_COLUMNS = ['pretraining epochs', 'images/s', 'device-hours', 'device']


# ---------------------------------------------------------------- the encoder


def encoder_cost(backbone_cfg: dict, input_size: Sequence[int]) -> Tuple[int, float]:
    """(parameters, inference GFLOPs per image at ``input_size`` (H, W)) of the backbone a config
    builds: windowed attention, CLS token and all. Its checkpoint (``init_cfg``) is not loaded:
    weights change neither count."""
    from mmengine.registry import MODELS
    importlib.import_module('backbones')  # registers the suite's JEPAViT in MODELS
    cfg = {k: v for k, v in backbone_cfg.items() if k != 'init_cfg'}
    check_registered(cfg, MODELS, 'model.backbone')  # the saved config of a run: data
    return _cost(json.dumps(cfg, sort_keys=True), tuple(int(s) for s in input_size))


@functools.lru_cache(maxsize=None)
def _cost(cfg_json: str, input_size: Tuple[int, int]) -> Tuple[int, float]:
    """``encoder_cost`` of a backbone config in JSON, counted once per config and size."""
    from mmengine.registry import MODELS
    # Built on the CPU (its constructor reads values of tensors, which the meta device has not),
    # then run on the meta device: shapes alone, the same count as a real forward in no time.
    model = MODELS.build(json.loads(cfg_json)).eval().to('meta')
    params = sum(p.numel() for p in model.parameters())
    # The whole encoder, whichever blocks a head reads (a probe picks them, not forward); the math
    # kernel of scaled_dot_product_attention is made of matrix products the counter sees.
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model.forward_features(torch.empty(1, 3, *input_size, device='meta'))
    return params, counter.get_total_flops() / 2 / 1e9  # the counter: 2 FLOPs per multiply-add


# ---------------------------------------------------------------- the pretraining


def pretraining_cost(checkpoint: str) -> Optional[dict]:
    """The cost of the pretraining job that wrote ``checkpoint``, from the runs of its work dir
    (the checkpoint's folder; a resumed job has several): ``images_per_s`` (the median of the
    logged throughput, which counts every process's images), ``epochs`` (the training length of
    its last saved config), ``device_hours`` (each run's wall time, its first to its last log
    record, times its number of processes, summed) and ``device`` ('CPU' or the GPU's name).
    A checkpoint the runner's ``export`` stage converted is traced back to the one it converted.
    None where the folder holds no mmengine run (a released checkpoint); a value it cannot find
    is None."""
    try:
        runs = run_dirs(osp.dirname(osp.abspath(checkpoint)))
    except FileNotFoundError:
        source = converted_from(checkpoint)
        return pretraining_cost(source) if source else None
    speeds = [row['images_per_s'] for run in runs for row in _scalars(run) if 'images_per_s' in row]
    logs = [_log_text(run) for run in runs]
    hours = [_device_hours(text) for text in logs]
    devices = [_device(text) for text in logs]
    return dict(images_per_s=statistics.median(speeds) if speeds else None,
                epochs=saved_config(runs[-1])[0].get('train_cfg', {}).get('max_epochs'),
                device_hours=None if None in hours else sum(hours),
                device=None if None in devices else ' / '.join(dict.fromkeys(devices)))


def converted_from(checkpoint: str) -> Optional[str]:
    """The checkpoint an ``export`` stage of the runner converted into ``checkpoint`` (its stage
    record's ``source``); None for any other file."""
    try:
        with open(osp.join(osp.dirname(osp.abspath(checkpoint)), DONE)) as f:
            return json.load(f).get('source')
    except (OSError, ValueError):
        return None


def _scalars(run: str) -> List[dict]:
    """The rows of a run's ``vis_data/scalars.json``; none before its first log."""
    path = osp.join(run, 'vis_data', 'scalars.json')
    return read_json_lines(path) if osp.exists(path) else []


def _log_text(run: str) -> str:
    """The text log mmengine writes as ``<run>/<run's timestamp>.log``; empty if it is missing."""
    path = osp.join(run, f'{osp.basename(run)}.log')
    if not osp.exists(path):
        return ''
    with open(path, errors='replace') as f:
        return f.read()


def _device_hours(log: str) -> Optional[float]:
    """Hours from a run's first to its last log record times its world size (mmengine's env info
    logs it as 'GPU number' whatever the device); None without both."""
    stamps = _STAMP.findall(log)
    world = _WORLD.search(log)
    if not stamps or not world:
        return None
    first, last = (datetime.strptime(s, '%Y/%m/%d %H:%M:%S') for s in (stamps[0], stamps[-1]))
    return (last - first).total_seconds() / 3600 * int(world.group(1))


def _device(log: str) -> Optional[str]:
    """The device of a run's env info: 'CPU' without CUDA, else the name of GPU 0 (the first rank's
    device; mmengine lists visible GPUs as 'GPU 0,1: NAME', one line per kind)."""
    cuda = _CUDA.search(log)
    if not cuda:
        return None
    if cuda.group(1) == 'False':
        return 'CPU'
    names = [name for ids, name in _GPUS.findall(log) if '0' in ids.split(',')]
    return names[0] if names else None


# ---------------------------------------------------------------- the table


def compute_table(runs: Iterable[Tuple[str, str, str, dict]]) -> Tuple[List[str], List[List[str]]]:
    """One row per (size, method) of transfer runs given as (method label, size, task, config):
    the encoder's parameters (M), its GFLOPs at each input size the runs' reports declare, and its
    pretraining's epochs, images/s, device-hours and device. A cell joins the distinct values of
    the row's runs with ' / '; 'missing' where none is known, '-' for a random init's pretraining.
    Seeds and tasks with the same values collapse."""
    cells: Dict[Tuple[str, str], Dict[str, List[str]]] = {}
    gflops_columns: Dict[str, None] = {}  # in the order first met
    pretraining: Dict[Optional[str], Tuple[str, ...]] = {}  # each job's logs read once
    for method, size, _task, config in runs:
        row = cells.setdefault((size, method), {})
        for column, value in _run_cells(config, pretraining).items():
            row.setdefault(column, []).append(value)
            if column.startswith('GFLOPs'):
                gflops_columns[column] = None
    header = ['size', 'method', 'params (M)', *gflops_columns, *_COST_COLUMNS]
    rows = [[size, method, *(' / '.join(dict.fromkeys(row.get(c, []))) or MISSING
                             for c in header[2:])]
            for (size, method), row in cells.items()]
    return header, rows


def _run_cells(config: dict, pretraining: Dict[Optional[str], Tuple[str, ...]]) -> Dict[str, str]:
    """A transfer run's cells by column: its encoder's cost at its report's input size (without
    one, its parameters alone) and its pretraining's, from ``pretraining`` or added to it."""
    backbone = config['model']['backbone']
    input_size = config.get('report', {}).get('input_size')
    side = backbone.get('img_size', 224)  # the pretraining resolution: any input counts parameters
    params, gflops = encoder_cost(backbone, input_size or (side, side))
    out = {'params (M)': _number(params / 1e6)}
    if input_size:
        out['GFLOPs @{}x{}'.format(*input_size)] = _number(gflops)
    checkpoint = (backbone.get('init_cfg') or {}).get('checkpoint')
    if checkpoint not in pretraining:
        pretraining[checkpoint] = _pretraining_cells(checkpoint)
    return {**out, **dict(zip(_COST_COLUMNS, pretraining[checkpoint]))}


def _pretraining_cells(checkpoint: Optional[str]) -> Tuple[str, ...]:
    """The pretraining cells of an encoder initialised from ``checkpoint``; '-' without one."""
    if checkpoint is None:
        return (NO_PRETRAINING,) * len(_COST_COLUMNS)
    cost = pretraining_cost(checkpoint) or {}
    values = [cost.get(k) for k in ('epochs', 'images_per_s', 'device_hours', 'device')]
    return tuple(MISSING if v is None else v if isinstance(v, str) else _number(v) for v in values)


def _number(x: float) -> str:
    """Three significant digits, whole numbers from 100 on (17.6 GFLOPs, 85.8 M, 1234 images/s)."""
    return f'{x:.0f}' if abs(x) >= 100 else f'{x:.3g}'
