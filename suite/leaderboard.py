"""The comparison of the registered methods on a set of transfer runs: table, verdicts and files
(``tools/leaderboard.py``).

Rows are task and metric per encoder size, tasks in the order the work dirs bring them, under a
first row per size naming each method's encoder file with its sha256 (``suite.results``'
``encoder_files``). Columns are the registered methods (``suite.methods``) that the results hold a
run of, compared methods first, then the baselines (encoders other methods released); the
difference of each to the first of them with its 95% interval; the random-init encoder where one
was run; and each shown method's published number of the row, the one measured at the row's
encoder size where there is one, with its size and source. Several seeds give mean +- std; a cell
without a run says so and is never filled in. Under the table, each method's protocol readout per
task where the configs declare one (a baseline's declared readout where they do not); then each
method with runs, baselines too, is set against the random-init encoder. Intervals come from a
paired bootstrap over the evaluation images (and over the seeds of a method with several) on the
runs' per-image records (``suite.significance``, ``engine.records``): a difference whose interval
holds 0 is within the noise of the test set, not a win. Runs are paired only where their records
identify the same images with the same ground truth (``engine.records``' pairing keys and
identities). Runs without usable records, records that do not identify their images (written
before records did), and runs on other images or ground truth give no interval ('missing'), each
with a warning naming the runs or file.
"""
import csv
import os
import os.path as osp
import re
import statistics
import warnings
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from engine.records import RecordsError
from suite import html_page as page
from suite.layerwise import layerwise_row, write_layerwise
from suite.methods import METHODS, Method, Published, baseline, in_table_order, pretrained
from suite.results import (MetricStyle, Records, Results, RunRecords, Styles, Table, collect,
                           encoder_files)
from suite.significance import Bootstrap, paired_bootstrap

#: resamples and seed of every bootstrap of the table and the verdicts
RESAMPLES = 1000
SEED = 0
#: the headings of the sections under the table
AGAINST_RANDOM = 'Against a randomly initialised encoder of the same size'
#: the task and metric cells of each size's first row, which names the encoder files
ENCODER_ROW = ('encoder', 'file (sha256)')
COMPUTE = ('Compute per encoder (parameters; inference GFLOPs per image at each task\'s input, '
           'one multiply-add = one FLOP; pretraining cost from its logs)')


#: a row that no report styles: higher is better, one decimal
PLAIN = MetricStyle()


def cell(values: Optional[List[float]], decimals: int = 1) -> str:
    """A method's values in a row: the one value, or mean +- std over seeds, or 'missing'."""
    if not values:
        return 'missing'
    if len(values) == 1:
        return f'{values[0]:.{decimals}f}'
    return (f'{statistics.mean(values):.{decimals}f} +- {statistics.stdev(values):.{decimals}f} '
            f'(n={len(values)})')


def metric_cell(metric: str, style: MetricStyle) -> str:
    """A row's metric as the table names it: its direction said where lower is better."""
    return f'{metric} (lower is better)' if style.lower_is_better else metric


def improvement(result: Bootstrap, style: MetricStyle) -> Tuple[float, float]:
    """The 95% interval of B's improvement over A (B - A, turned round where lower is better)."""
    if style.lower_is_better:
        return -result.ci_high, -result.ci_low
    return result.ci_low, result.ci_high


def with_runs(table: Table) -> List[Method]:
    """The registered methods that the table holds a value of, in table order (compared methods,
    baselines, the random-init encoder)."""
    ran = {method for by in table.values() for method, values in by.items() if values}
    return [m for m in in_table_order() if m.name in ran]


def header(shown: Sequence[Method]) -> List[str]:
    """The table's columns for the pretrained methods ``shown``: the first is the one the others'
    differences are taken against."""
    diffs = [f'{m.short} - {shown[0].label}' for m in shown[1:]]
    return (['size', 'task', 'metric'] + [m.label for m in shown] + diffs + [baseline().label] +
            [f'published {m.label}' for m in shown] + ['checkpoint: how chosen'])


def _unpaired(first: RunRecords, other: RunRecords) -> Optional[str]:
    """Why two runs' records cannot be compared image by image, or None where they can: both
    identify their images (``engine.records``), in the same way, and name the same images in the
    same order."""
    unidentified = [r.run for r in (first, other) if r.identity is None]
    if unidentified:
        return (f'{first.run} and {other.run}: the records of {" and ".join(unidentified)} do not '
                'identify their images (written before records did, or by an evaluation that '
                'could not name them), so the two are not paired: no interval')
    if first.identity != other.identity or not np.array_equal(first.keys, other.keys):
        return (f'{first.run} and {other.run} were not evaluated on the same images in the same '
                'order, with the same ground truth (their records\' pairing keys or identities '
                f'differ: {first.identity} / {other.identity}): no interval')
    return None


def bootstrap(a: Optional[List[Optional[RunRecords]]],
              b: Optional[List[Optional[RunRecords]]]) -> Optional[Bootstrap]:
    """B - A's paired bootstrap over the images, and the seeds, of two methods' runs; None where a
    run has no records, where two runs' records do not show the same images with the same ground
    truth in the same order, or where a run's records cannot be evaluated (a warning names them)."""
    if not a or not b or any(r is None for r in a + b):
        return None
    first = a[0]
    for other in a[1:] + b:
        reason = _unpaired(first, other)
        if reason is not None:
            warnings.warn(reason, stacklevel=2)
            return None
    try:
        return paired_bootstrap([r.metric for r in a], [r.metric for r in b], len(first.keys),
                                RESAMPLES, SEED)
    except RecordsError as err:  # a file the records refer to, read on first use
        warnings.warn(f'{err}: no interval', stacklevel=2)
        return None


def _interval(result: Bootstrap, decimals: int = 1) -> str:
    """A bootstrap's 95% interval of the difference."""
    return f'[{result.ci_low:+.{decimals}f}, {result.ci_high:+.{decimals}f}]'


def difference(delta: float, result: Optional[Bootstrap], style: MetricStyle = PLAIN) -> str:
    """A difference (B - A) with its interval: 'within noise' when that holds 0, else whether B is
    better or worse, in the row's direction; its interval 'missing' without a bootstrap."""
    digits = style.decimals
    if result is None:
        return f'{delta:+.{digits}f} [missing]'
    low, high = improvement(result, style)
    verdict = ' within noise' if low <= 0 <= high else ' better' if low > 0 else ' worse'
    return f'{delta:+.{digits}f} {_interval(result, digits)}{verdict}'


def published_cell(number: Optional[Published]) -> str:
    """A published number with the size it was measured at and its source; 'missing' without."""
    return f'{number.value} ({number.size}, {number.source})' if number else 'missing'


def _row(size: str, task: str, metric: str, by: Dict[str, List[float]],
         recs: Dict[str, List[Optional[RunRecords]]], selection: Dict[str, str],
         shown: Sequence[Method], style: MetricStyle) -> List[str]:
    first = by.get(shown[0].name) if shown else None
    diffs = [difference(statistics.mean(by[m.name]) - statistics.mean(first),
                        bootstrap(recs.get(shown[0].name), recs.get(m.name)), style)
             if first and by.get(m.name) else 'missing' for m in shown[1:]]
    base = by.get(baseline().name)
    return ([size, task, metric_cell(metric, style)] +
            [cell(by.get(m.name), style.decimals) for m in shown] + diffs +
            [cell(base, style.decimals) if base else '-'] +
            [published_cell(m.published_at(task, metric, size)) for m in shown] +
            [' / '.join(dict.fromkeys(selection[m] for m in by if m in selection)) or 'missing'])


def encoder_row(size: str, files: Dict[str, str], shown: Sequence[Method]) -> List[str]:
    """The first row of a size: each shown method's encoder file(s) from ``files`` (method ->
    cell, ``suite.results.encoder_files``), 'missing' for a method without a run of the size; the
    random-init column '-' where none was run."""
    return ([size, *ENCODER_ROW] + [files.get(m.name, 'missing') for m in shown] +
            [''] * (len(shown) - 1 if shown else 0) + [files.get(baseline().name, '-')] +
            [''] * (len(shown) + 1))


def natural_key(label: str) -> Tuple:
    """A row label's sort key with its numbers compared as numbers (``block 2`` before
    ``block 10``)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r'(\d+)', label))


def rows(table: Table, records: Optional[Records] = None,
         selections: Optional[Dict[str, Dict[str, str]]] = None,
         encoders: Optional[Dict[str, Dict[str, str]]] = None, styles: Optional[Styles] = None
         ) -> Tuple[List[str], List[List[str]]]:
    """The header and the rows: by size, then task in the table's order, then metric; intervals
    from ``records``, each task's model selection from ``selections`` (none without), each row's
    direction and decimals from ``styles`` (higher is better, one decimal, without) and, where
    ``encoders`` are given (size -> method -> encoder file, ``suite.results.encoder_files``), the
    size's encoder row first."""
    order: Dict[str, int] = {}
    for _, task, _ in table:
        order.setdefault(task, len(order))
    keys = sorted(table, key=lambda k: (k[0], order[k[1]], natural_key(k[2])))
    records, selections, styles = records or {}, selections or {}, styles or {}
    shown = [m for m in with_runs(table) if m.name != baseline().name]
    body = []
    for key in keys:
        if encoders is not None and (not body or body[-1][0] != key[0]):
            body.append(encoder_row(key[0], encoders.get(key[0], {}), shown))
        body.append(_row(*key, table[key], records.get(key, {}), selections.get(key[1], {}),
                         shown, styles.get(key[1:], PLAIN)))
    return header(shown), body


def protocol_line(protocols: Dict[str, Dict[str, str]]) -> str:
    """One line naming each method's protocol readout per task; empty where none is declared."""
    tasks = []
    for task, by in protocols.items():
        named = [f'{m.label} {by[m.name]}' for m in pretrained() if m.name in by]
        if named:  # the baseline's config is a method's: its protocol is not its own
            tasks.append(f'{task}: {", ".join(named)}')
    return f'\nProtocol readout per task: {"; ".join(tasks)}\n' if tasks else ''


def _verdict(value: float, base: float, result: Optional[Bootstrap], style: MetricStyle) -> str:
    """Whether ``value`` beats the baseline's ``base`` in the row's direction, and the numbers
    that say so: beyond noise only where the interval of the improvement lies above 0."""
    name, digits = baseline().label, style.decimals
    better = base > value if style.lower_is_better else value > base
    numbers = f'{value:.{digits}f} vs {base:.{digits}f}, {value - base:+.{digits}f}'
    direction = ', lower is better' if style.lower_is_better else ''
    if result is None:
        return (f'beats {name}' if better else f'does NOT beat {name}') + \
            f' ({numbers}, interval missing{direction})'
    verdict = (f'beats {name}' if improvement(result, style)[0] > 0 else
               f'does NOT beat {name} beyond noise' if better else f'does NOT beat {name}')
    # the share of resamples on which the method is not better than random init (where lower is
    # better, on which its difference is above 0: the bootstrap counts ties with <= 0)
    worse = 1 - result.p_le_0 if style.lower_is_better else result.p_le_0
    side = '> 0' if style.lower_is_better else '<= 0'
    return (f'{verdict} ({numbers} {_interval(result, digits)}{direction}, '
            f'{worse:.1%} of resamples {side})')


def against_random(table: Table, records: Optional[Records] = None,
                   styles: Optional[Styles] = None) -> List[str]:
    """For every row with a random-init run: whether each method with a run there (compared or
    baseline) beats it, in the row's direction (``styles``). Where the runs recorded their
    images, a gain whose 95% interval (paired bootstrap over the test images and the seeds) holds
    0 is called noise, not a win."""
    lines = []
    random = baseline().name
    records, styles = records or {}, styles or {}
    for (size, task, metric), by in sorted(table.items()):
        if not by.get(random):
            continue
        recs = records.get((size, task, metric), {})
        base = statistics.mean(by[random])
        for method in pretrained():
            if not by.get(method.name):
                continue
            value = statistics.mean(by[method.name])
            result = bootstrap(recs.get(random), recs.get(method.name))
            lines.append(f'{size} {task} {metric}: {method.label} '
                         f'{_verdict(value, base, result, styles.get((task, metric), PLAIN))}')
    return lines


def markdown(header: List[str], body: List[List[str]]) -> str:
    """The table as a markdown table; a ``|`` in a cell or heading is escaped (``\\|``), so it
    stays in its column."""
    def line(cells: List[str]) -> str:
        return '| ' + ' | '.join(str(c).replace('|', '\\|') for c in cells) + ' |'
    return '\n'.join([line(header), '|' + '---|' * len(header)] + [line(r) for r in body]) + '\n'


def chart_bars(table: Table, styles: Optional[Styles] = None) -> Tuple[
        List[str], List[Tuple[str, List[float], List[float], List[float]]]]:
    """The chart's x labels and the bars of each method with runs: (label, x positions, means,
    stds). Layer-wise rows are left to their own picture (``suite.layerwise``), and rows where
    lower is better (errors in their own units, e.g. metres) to the table."""
    styles = styles or {}
    keys = sorted(k for k in table if layerwise_row(k[2]) is None and
                  not styles.get(k[1:], PLAIN).lower_is_better)
    labels = [f'{task}\n{metric}\n{size}' for size, task, metric in keys]
    methods = with_runs(table)
    width = 0.8 / max(len(methods), 1)
    bars = []
    for i, method in enumerate(methods):
        xs, ys, errs = [], [], []
        for x, key in enumerate(keys):
            values = table[key].get(method.name)
            if values:
                xs.append(x + (i - (len(methods) - 1) / 2) * width)
                ys.append(statistics.mean(values))
                errs.append(statistics.stdev(values) if len(values) > 1 else 0.0)
        bars.append((method.label, xs, ys, errs))
    return labels, bars


def write_chart(path: str, table: Table, styles: Optional[Styles] = None) -> None:
    """Grouped bars per row (mean, std as error bars) for the methods that have runs."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels, bars = chart_bars(table, styles)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4), dpi=100)
    for label, xs, ys, errs in bars:
        ax.bar(xs, ys, 0.8 / len(bars), yerr=errs, label=label, capsize=3)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel('% (AP, mIoU, top-1)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def compute(results: Results) -> Tuple[List[str], List[List[str]]]:
    """The compute table of the runs' encoders (``suite.compute``), methods by their labels."""
    from suite.compute import compute_table  # counting FLOPs needs torch, the table alone not
    return compute_table((METHODS[m].label, size, task, config)
                         for m, size, task, config in results.runs)


def write_all(work_dirs: Iterable[str], out: str, figures: Sequence[str] = ()) -> str:
    """Write ``leaderboard.{md,csv,html,png}`` (and ``compute.csv``) to ``out``: the table, the
    protocols, the verdicts against random init and the compute table; the HTML page shows the
    chart, the layer-wise curves where the table has layer-wise rows (``layerwise.png``,
    ``suite.layerwise``) and ``figures`` (PNGs: training curves, clusters, regions) too. Return
    the markdown."""
    results = collect(work_dirs)
    head, body = rows(results.table, results.records, results.selections,
                      encoder_files(results.runs), results.styles)
    cost_head, cost_body = compute(results)
    os.makedirs(out, exist_ok=True)
    protocols = protocol_line(results.protocols)
    verdicts = against_random(results.table, results.records, results.styles)
    text = markdown(head, body) + protocols
    if verdicts:
        text += f'\n{AGAINST_RANDOM}:\n\n' + ''.join(f'- {line}\n' for line in verdicts)
    text += f'\n{COMPUTE}:\n\n' + markdown(cost_head, cost_body)
    with open(osp.join(out, 'leaderboard.md'), 'w') as f:
        f.write(text)
    for name, rows_ in (('leaderboard', [head] + body), ('compute', [cost_head] + cost_body)):
        with open(osp.join(out, f'{name}.csv'), 'w', newline='') as f:
            csv.writer(f).writerows(rows_)
    chart = osp.join(out, 'leaderboard.png')
    write_chart(chart, results.table, results.styles)
    curve = write_layerwise(osp.join(out, 'layerwise.png'), results.table,
                            with_runs(results.table))
    page.write_page(osp.join(out, 'leaderboard.html'), 'Leaderboard', [
        ('Results', page.table(head, body) + page.paragraph(protocols)),
        (AGAINST_RANDOM, page.bullets(verdicts)),
        (COMPUTE, page.table(cost_head, cost_body)),
        ('Pictures', page.figures([chart, *([curve] if curve else []), *figures], out))])
    return text
