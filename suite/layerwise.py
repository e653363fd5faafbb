"""The layer-wise probing curve of the leaderboard (SPEC section 4g): top-1 against block index, a
panel per encoder size and task whose rows are layer-wise, a line per method and readout.

Layer-wise rows are told by their label alone, ``top-1 block <k> <readout>`` (the rows the
``configs/layerwise/`` configs declare), never by the task's name, so any task reporting such rows
gets its panel. Each point is the mean over the seeds of the leaderboard's table
(``suite.results``' ``Table``).
"""
import os
import re
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from suite.methods import Method
from suite.results import Table

#: a layer-wise row's label: its block (1..depth) and readout
ROW = re.compile(r'top-1 block ([1-9][0-9]*) (avg|cls)')
#: readout -> what its line is called and drawn as (solid patch average, dashed CLS token)
READOUT_LINES = {'avg': ('patch average', '-'), 'cls': ('CLS token', '--')}
#: (blocks, seed means) of one line
Curve = Tuple[List[int], List[float]]
#: (size, task) -> (method, readout) -> its curve
Curves = Dict[Tuple[str, str], Dict[Tuple[str, str], Curve]]


def layerwise_row(metric: str) -> Optional[Tuple[int, str]]:
    """``(block, readout)`` of a layer-wise row label; None for any other row."""
    match = ROW.fullmatch(metric)
    return (int(match.group(1)), match.group(2)) if match else None


def _points(table: Table) -> Dict[Tuple[str, str], Dict[Tuple[str, str], Dict[int, float]]]:
    """(size, task) -> (method, readout) -> block -> the seed mean, of the layer-wise rows."""
    points: Dict[Tuple[str, str], Dict[Tuple[str, str], Dict[int, float]]] = {}
    for (size, task, metric), by in table.items():
        row = layerwise_row(metric)
        if row is None:
            continue
        panel = points.setdefault((size, task), {})
        for method, values in by.items():
            if values:
                panel.setdefault((method, row[1]), {})[row[0]] = statistics.mean(values)
    return points


def layerwise_curves(table: Table, methods: Sequence[Method]) -> Curves:
    """The curves of the table's layer-wise rows: panels by size, then task in the table's order;
    in each, a line per method (in the order of ``methods``; others are left out) and readout
    (avg, then cls), its points by block, each the mean of the method's seeds."""
    points = _points(table)
    tasks = list(dict.fromkeys(task for _, task, _ in table))
    order = [(m.name, readout) for m in methods for readout in READOUT_LINES]
    curves: Curves = {}
    for key in sorted(points, key=lambda k: (k[0], tasks.index(k[1]))):
        lines = {line: sorted(points[key][line].items()) for line in order if line in points[key]}
        if lines:
            curves[key] = {line: ([b for b, _ in p], [v for _, v in p])
                           for line, p in lines.items()}
    return curves


def plot_layerwise(curves: Curves, methods: Sequence[Method]):
    """A matplotlib figure of ``curves``: a panel per (size, task), x the block index, y top-1;
    each method in its colour (its place in ``methods``, as in the leaderboard's bar chart), the
    patch average solid and the CLS token dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    colours = {m.name: f'C{i}' for i, m in enumerate(methods)}
    labels = {m.name: m.label for m in methods}
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4), dpi=100,
                             squeeze=False)
    for ax, ((size, task), lines) in zip(axes[0], curves.items()):
        for (method, readout), (blocks, top1) in lines.items():
            name, style = READOUT_LINES[readout]
            ax.plot(blocks, top1, style, marker='o', markersize=3, color=colours[method],
                    label=f'{labels[method]} ({name})')
        ax.set_title(f'{task}, {size}', fontsize=10)
        ax.set_xlabel('block')
        ax.set_ylabel('top-1 %')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_layerwise(path: str, table: Table, methods: Sequence[Method]) -> Optional[str]:
    """Draw the table's layer-wise curves (:func:`plot_layerwise`) to ``path`` (a PNG) and return
    it; without a layer-wise row draw nothing, remove a picture an earlier call left at ``path``
    (the folder never shows curves its table lacks) and return None."""
    curves = layerwise_curves(table, methods)
    if not curves:
        if os.path.exists(path):
            os.remove(path)
        return None
    import matplotlib.pyplot as plt
    fig = plot_layerwise(curves, methods)
    fig.savefig(path)
    plt.close(fig)
    return path
