"""The DSeq-JEPA paper's ablations as tables of the suite's runs beside the published numbers.

A row is one pretraining setting, named as the suite names its stages: a method's own config
(``ijepa``: uniform regions predicted flat; ``dseq``: the paper's setting) or DSeq-JEPA's config
with one model switch, named ``<switch>-<value>`` (``order-inverse``: ``model = dict(order=
'inverse')`` in ``configs/pretrain/ablations/dseq_vitb16_in1k_order-inverse.py``).
A transfer run belongs to the row its config's ``ablation`` names (the suite runner passes it with
``--cfg-options`` to every run of a preset's ``ablations``), else to its ``pretrain_method``'s row,
so the method runs of any preset fill the ``ijepa`` and ``dseq`` rows.

The tables are laid out as the paper's (region source x prediction, prediction order, N, saliency
source) plus the curriculum, which the paper does not ablate: a row per setting (a row can stand in
several tables, as the default does in all of them), our number per task in each run's protocol
readout (``report.protocol``), then the published number of each task the paper reports, missing
where it reports none. Several seeds give mean +- std, as in the leaderboard.
"""
import csv
import os
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from suite.leaderboard import cell, markdown
from suite.results import describe, evaluated_runs

#: (task, metric) of the published numbers: the paper's ImageNet-1k and iNat21 linear probes
IN1K = ('ImageNet-1k linear', 'top-1 concat4')
INAT21 = ('iNat21 linear', 'top-1 concat4')


@dataclass(frozen=True)
class Entry:
    """A row of an ablation table: the row's name, its setting in the table's columns and the
    published numbers, (task, metric) -> value."""
    row: str
    setting: Tuple[str, ...]
    published: Dict[Tuple[str, str], float] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """One ablation table: its title, the columns that describe a setting, where its published
    numbers come from (None: the paper has no such table) and its rows."""
    title: str
    columns: Tuple[str, ...]
    source: Optional[str]
    entries: Tuple[Entry, ...]


_SETTING = 'ViT-B/16 pretrained on ImageNet-1k in its ablation setting, single runs'
# SPEC section 3 ("Ablations") and section 5
GROUPS: Tuple[Group, ...] = (
    Group('Region source x prediction', ('region source', 'prediction'),
          f'DSeq-JEPA paper Table 4, {_SETTING}', (
              Entry('ijepa', ('uniform', 'flat (I-JEPA)'), {IN1K: 72.4, INAT21: 35.9}),
              Entry('regions-uniform', ('uniform', 'sequential'), {IN1K: 72.3}),
              Entry('prediction-flat', ('discriminative', 'flat'), {IN1K: 72.0}),
              Entry('dseq', ('discriminative', 'sequential (DSeq-JEPA)'),
                    {IN1K: 73.5, INAT21: 36.4}))),
    Group('Prediction order', ('order',), f'DSeq-JEPA paper Table 5, {_SETTING}', (
        Entry('dseq', ('saliency rank (DSeq-JEPA)',), {IN1K: 73.5}),
        Entry('order-random', ('random',), {IN1K: 71.7}),
        Entry('order-spatial', ('spatial',), {IN1K: 72.7}),
        Entry('order-inverse', ('inverse rank',), {IN1K: 71.3}),
        Entry('top_k-3', ('top-3 regions only',), {IN1K: 73.0}))),
    Group('Number of regions N', ('N',), f'DSeq-JEPA paper, its N ablation, {_SETTING}', (
        Entry('num_regions-3', ('3',), {IN1K: 72.9}),
        Entry('dseq', ('5 (DSeq-JEPA)',), {IN1K: 73.5}),
        Entry('num_regions-7', ('7',), {IN1K: 73.4}))),
    Group('Saliency source', ('saliency',), f'DSeq-JEPA paper Table 7, {_SETTING}', (
        Entry('dseq', ('CLS similarity (DSeq-JEPA)',), {IN1K: 73.5}),
        Entry('saliency-gradcam', ('Grad-CAM',), {IN1K: 73.4}))),
    Group('Curriculum', ('DSeq step drawn',), None, (
        Entry('dseq', ('per step (DSeq-JEPA default)',)),
        Entry('curriculum-per_region', ("per region (the paper's Algorithm 1)",)))),
)

#: every row of the tables, in their order
ROWS: Tuple[str, ...] = tuple(dict.fromkeys(e.row for g in GROUPS for e in g.entries))
#: the (task, metric) of every published number, in the tables' order: a column each
PUBLISHED: Tuple[Tuple[str, str], ...] = tuple(dict.fromkeys(
    key for g in GROUPS for e in g.entries for key in e.published))

#: (row, size, task, metric) -> values, one per seed
Values = Dict[Tuple[str, str, str, str], List[float]]


class AblationResults(NamedTuple):
    """The runs' values, our columns (size, task, metric) in the order the work dirs bring them,
    and per task how its reported checkpoint or head was chosen."""
    values: Values
    columns: List[Tuple[str, str, str]]
    selections: Dict[str, str]


def row_of(config: dict) -> str:
    """The ablation row of a transfer run: its ``ablation``, else its ``pretrain_method``."""
    return config.get('ablation') or config['pretrain_method']


def collect(work_dirs: Iterable[str]) -> AblationResults:
    """Each run's numbers in its protocol readout (all its metrics where it declares none), by
    row. Runs of no row (random init) are left out with a note; two work dirs of the same row,
    size, task and seed are an error, as in the leaderboard."""
    by_seed: Dict[Tuple[str, str, str, str], Dict[int, float]] = defaultdict(dict)
    columns: Dict[Tuple[str, str, str], None] = {}
    selections: Dict[str, str] = {}
    work_dir_of: Dict[Tuple[str, str, str, int], str] = {}
    for work_dir, config, path, metrics in evaluated_runs(work_dirs):
        _, size, task, seed = describe(config, path)
        row = row_of(config)
        if row not in ROWS:
            print(f'note: {work_dir} is no ablation row ({row!r}); left out of the tables')
            continue
        first = work_dir_of.setdefault((row, size, task, seed), work_dir)
        if osp.realpath(first) != osp.realpath(work_dir):
            raise ValueError(f'{first} and {work_dir} are both the ablation row {row!r}, {size} '
                             f'{task} with seed {seed}: pass only one of them')
        protocol = config['report'].get('protocol')
        selections.setdefault(task, config['report'].get('selection') or 'missing')
        for metric, value in metrics.items():
            if protocol in metrics and metric != protocol:
                continue
            columns.setdefault((size, task, metric))
            by_seed[(row, size, task, metric)][seed] = value
    values = {key: list(seeds.values()) for key, seeds in by_seed.items()}
    return AblationResults(values, list(columns), selections)


def table(group: Group, results: AblationResults) -> Tuple[List[str], List[List[str]]]:
    """The header and rows of a group's table: its setting columns, the row's name, our number per
    column of ``results`` ('missing' without a run), the published number per task of
    ``PUBLISHED`` ('missing' where the paper has none)."""
    head = [*group.columns, 'run', *(' '.join(c) for c in results.columns),
            *(f'published {task} {metric}' for task, metric in PUBLISHED)]
    body = [[*e.setting, e.row,
             *(cell(results.values.get((e.row, *c))) for c in results.columns),
             *(f'{e.published[k]}' if k in e.published else 'missing' for k in PUBLISHED)]
            for e in group.entries]
    return head, body


def heading(group: Group) -> str:
    """A table's title and the source of its published numbers."""
    return f'{group.title} (published: {group.source or "missing, the paper has no such table"})'


def csv_rows(results: AblationResults) -> List[List[str]]:
    """The tables in long form: a line per table, row and column, ours or published."""
    lines = [['table', 'setting', 'run', 'size', 'task', 'metric', 'value', 'source']]
    for g in GROUPS:
        for e in g.entries:
            setting = ', '.join(e.setting)
            for size, task, metric in results.columns:
                lines.append([g.title, setting, e.row, size, task, metric,
                              cell(results.values.get((e.row, size, task, metric))), 'this run'])
            for task, metric in PUBLISHED:
                value = e.published.get((task, metric))
                lines.append([g.title, setting, e.row, 'ViT-B/16', task, metric,
                              'missing' if value is None else f'{value}',
                              g.source if value is not None else ''])
    return lines


def write_tables(work_dirs: Iterable[str], out: str) -> str:
    """Write ``ablations.md`` and ``ablations.csv`` to ``out``: a table per ablation, then how each
    task's reported checkpoint was chosen. Return the markdown."""
    results = collect(work_dirs)
    text = ''.join(f'### {heading(g)}\n\n' + markdown(*table(g, results)) + '\n' for g in GROUPS)
    text += 'Checkpoint (or head) reported, how chosen: ' + ('; '.join(
        f'{task}: {how}' for task, how in results.selections.items()) or 'missing') + '\n'
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'ablations.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out, 'ablations.csv'), 'w', newline='') as f:
        csv.writer(f).writerows(csv_rows(results))
    return text
