"""The comparison of the registered pretraining methods on a set of transfer runs: table, verdicts
and files (``tools/leaderboard.py``).

Rows are task and metric per encoder size, tasks in the order the work dirs bring them; columns each
registered method (``suite.methods``), the difference of each to the first, the random-init baseline
where one was run, and each method's published numbers with their sources. Several seeds give
mean +- std; a cell without a run says so and is never filled in. Under the table, each method's
protocol readout per task where the configs declare one; then each method is set against the
random-init encoder, with the gain in standard errors of the test set where the probe logged its
size: a gain within two of them is reported as noise, not a win.
"""
import csv
import html
import math
import os
import os.path as osp
import statistics
from typing import Dict, Iterable, List, Optional, Tuple

from suite.methods import baseline, in_table_order, pretrained
from suite.results import SAMPLES, Table, collect


def cell(values: Optional[List[float]]) -> str:
    """A method's values in a row: the one value, or mean +- std over seeds, or 'missing'."""
    if not values:
        return 'missing'
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f} (n={len(values)})'


def header() -> List[str]:
    """The table's columns for the registered methods."""
    methods = pretrained()
    first = methods[0]
    return (['size', 'task', 'metric'] + [m.label for m in methods] +
            [f'{m.short} - {first.label}' for m in methods[1:]] + [baseline().label] +
            [f'published {m.label}' for m in methods])


def _row(size: str, task: str, metric: str, by: Dict[str, List[float]]) -> List[str]:
    methods = pretrained()
    first = by.get(methods[0].name)
    diffs = [f'{statistics.mean(by[m.name]) - statistics.mean(first):+.1f}'
             if first and by.get(m.name) else 'missing' for m in methods[1:]]
    base = by.get(baseline().name)
    published = [m.published.get((task, metric)) for m in methods]
    return ([size, task, metric] + [cell(by.get(m.name)) for m in methods] + diffs +
            [cell(base) if base else '-'] +
            [f'{p[0]} ({p[1]})' if p else 'missing' for p in published])


def rows(table: Table) -> Tuple[List[str], List[List[str]]]:
    """The header and the rows: by size, then task in the table's order, then metric."""
    order: Dict[str, int] = {}
    for _, task, _ in table:
        order.setdefault(task, len(order))
    keys = sorted((k for k in table if k[2] != SAMPLES), key=lambda k: (k[0], order[k[1]], k[2]))
    return header(), [_row(*key, table[key]) for key in keys]


def protocol_line(protocols: Dict[str, Dict[str, str]]) -> str:
    """One line naming each method's protocol readout per task; empty where none is declared."""
    tasks = []
    for task, by in protocols.items():
        named = [f'{m.label} {by[m.name]}' for m in pretrained() if m.name in by]
        if named:  # the baseline's config is a method's: its protocol is not its own
            tasks.append(f'{task}: {", ".join(named)}')
    return f'\nProtocol readout per task: {"; ".join(tasks)}\n' if tasks else ''


def _standard_error(accuracy: float, samples: Optional[float]) -> Optional[float]:
    """The binomial standard error (%) of an accuracy (%) measured on ``samples`` images."""
    if not samples:
        return None
    p = accuracy / 100
    return 100 * math.sqrt(p * (1 - p) / samples)


def _verdict(value: float, base: float, se: Optional[float], base_se: Optional[float]) -> str:
    """Whether ``value`` beats the baseline's ``base``, and the numbers that say so."""
    gain, name = value - base, baseline().label
    numbers = f'{value:.1f} vs {base:.1f}, {gain:+.1f}'
    if se is None or base_se is None:
        return (f'beats {name}' if gain > 0 else f'does NOT beat {name}') + f' ({numbers})'
    ratio = gain / math.hypot(se, base_se)
    verdict = (f'beats {name}' if ratio > 2 else
               f'does NOT beat {name} beyond noise' if ratio > 0 else f'does NOT beat {name}')
    return f'{verdict} ({numbers}, {ratio:+.1f} standard errors)'


def against_random(table: Table) -> List[str]:
    """For every row with a random-init run: whether each pretrained method beats it. Where the
    runs logged their test-set sizes, a gain within two standard errors of the difference (test-set
    sampling only) is called noise, not a win."""
    lines = []
    random = baseline().name
    for (size, task, metric), by in sorted(table.items()):
        if metric == SAMPLES or not by.get(random):
            continue
        samples = table.get((size, task, SAMPLES), {})
        base = statistics.mean(by[random])
        base_se = _standard_error(base, min(samples.get(random, [0])))
        for method in pretrained():
            if not by.get(method.name):
                continue
            value = statistics.mean(by[method.name])
            se = _standard_error(value, min(samples.get(method.name, [0])))
            lines.append(f'{size} {task} {metric}: {method.label} '
                         f'{_verdict(value, base, se, base_se)}')
    return lines


def markdown(header: List[str], body: List[List[str]]) -> str:
    """The table as a markdown table."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in body]) + '\n'


def write_html(path: str, header: List[str], body: List[List[str]]) -> None:
    """The table as a standalone HTML page."""
    cells = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    trs = ''.join('<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in r) + '</tr>' for r in body)
    with open(path, 'w') as f:
        f.write('<!DOCTYPE html><html><head><meta charset="utf-8"><title>leaderboard</title>'
                '<style>td,th{border:1px solid #999;padding:4px 8px}table{border-collapse:'
                f'collapse}}</style></head><body><table><tr>{cells}</tr>{trs}</table></body></html>\n')


def chart_bars(table: Table) -> Tuple[List[str], List[Tuple[str, List[float], List[float],
                                                              List[float]]]]:
    """The chart's x labels and each method's bars: (label, x positions, means, stds)."""
    keys = sorted(k for k in table if k[2] != SAMPLES)
    labels = [f'{task}\n{metric}\n{size}' for size, task, metric in keys]
    methods = in_table_order()
    width = 0.8 / len(methods)
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


def write_chart(path: str, table: Table) -> None:
    """Grouped bars per row (mean, std as error bars) for the methods that have runs."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels, bars = chart_bars(table)
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


def write_all(work_dirs: Iterable[str], out: str) -> str:
    """Write ``leaderboard.{md,csv,html,png}`` to ``out``; return the markdown."""
    results = collect(work_dirs)
    head, body = rows(results.table)
    os.makedirs(out, exist_ok=True)
    text = markdown(head, body) + protocol_line(results.protocols)
    verdicts = against_random(results.table)
    if verdicts:
        text += '\nAgainst a randomly initialised encoder of the same size:\n\n' + \
            ''.join(f'- {line}\n' for line in verdicts)
    with open(osp.join(out, 'leaderboard.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out, 'leaderboard.csv'), 'w', newline='') as f:
        csv.writer(f).writerows([head] + body)
    write_html(osp.join(out, 'leaderboard.html'), head, body)
    write_chart(osp.join(out, 'leaderboard.png'), results.table)
    return text
