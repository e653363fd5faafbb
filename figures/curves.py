"""Training curves of pretraining runs, the methods in one picture (``tools/plot_curves.py``).

Read from mmengine's ``<work_dir>/<timestamp>/vis_data/scalars.json`` of every run of a work dir,
oldest first: a resumed run continues the curves of the runs before it, its rows replacing theirs
from its first logged iteration on (a killed run may have logged past the checkpoint resumed from).
"""
import os.path as osp
from typing import Dict, List, Tuple

from suite.results import read_json_lines, run_dirs

#: the logged keys drawn, each in its panel, with the panel's title. mmengine's logger drops the
#: ``train/`` prefix of the hooks' scalars (``train/target_rank`` is logged as ``target_rank``).
PANELS = {'loss': 'loss', 'target_rank': 'effective rank of the targets (train/target_rank)',
          'knn_top1': 'kNN top-1 % (train/knn_top1)', 'lr': 'learning rate'}
Curve = Tuple[List[int], List[float]]


def logged_rows(work_dir: str) -> List[dict]:
    """The rows (with a ``step``) of every run of a work dir, oldest first, each resumed run's rows
    replacing the earlier runs' from its first step on."""
    rows: List[dict] = []
    for run in run_dirs(work_dir):
        path = osp.join(run, 'vis_data', 'scalars.json')
        new = [r for r in read_json_lines(path) if 'step' in r] if osp.exists(path) else []
        if new:
            start = min(r['step'] for r in new)
            rows = [r for r in rows if r['step'] < start] + new
    return rows


def curves(work_dir: str) -> Dict[str, Curve]:
    """The (iterations, values) of each key of ``PANELS`` that a work dir's runs logged."""
    rows = logged_rows(work_dir)
    return {key: ([r['step'] for r in rows if key in r], [r[key] for r in rows if key in r])
            for key in PANELS if any(key in r for r in rows)}


def plot_curves(runs: Dict[str, str], out: str) -> str:
    """Draw the curves of the labelled work dirs to ``out`` (a PNG), a panel per logged key, a line
    per run; return ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    found = {label: curves(work_dir) for label, work_dir in runs.items()}
    keys = [key for key in PANELS if any(key in c for c in found.values())]
    if not keys:
        raise ValueError(f'no run of {", ".join(runs.values())} logged any of {", ".join(PANELS)}')
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.6), dpi=100, squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, logged in found.items():
            if key in logged:
                ax.plot(*logged[key], label=label, marker='.' if len(logged[key][0]) < 30 else None)
        ax.set_title(PANELS[key], fontsize=10)
        ax.set_xlabel('iteration')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis='y', useOffset=False)  # values as logged, not offsets from one
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
