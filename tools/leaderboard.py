"""Turn the results that mmengine wrote for a set of runs into the I-JEPA / DSeq-JEPA comparison.

    python tools/leaderboard.py WORK_DIR [WORK_DIR ...] [--out work_dirs/leaderboard]

Every run is described by the config mmengine saved with it (``<run>/vis_data/config.py``), never by
folder names: the pretraining method (``pretrain_method``), the encoder size, the task (the dataset
class) and the seed (``randomness.seed``). Its numbers are the last evaluation it logged: test
results (``tools/test.py``) where there are some, else the last validation. Rows are task and metric
per encoder size; columns I-JEPA, DSeq-JEPA, their difference, a randomly initialised encoder where
one was run, and the published numbers of SPEC section 5 with their sources. Several seeds give
mean +- std; a cell without a run says so and is never filled in. Below the table, each pretrained
method is set against the random-init encoder, with the gain in standard errors of the test set
where the probe logged its size: a gain within two of them is reported as noise, not a win.

Writes ``leaderboard.md``, ``.csv``, ``.html`` and a bar chart ``leaderboard.png`` to ``--out`` and
prints the markdown table.
"""
import argparse
import csv
import glob
import html
import json
import math
import os
import os.path as osp
import statistics
import warnings
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Tuple

METHODS = {'ijepa': 'I-JEPA', 'dseq': 'DSeq-JEPA', 'random': 'random init'}

#: (task, metric) -> method -> (value, source); SPEC section 5 (ViT-B/16 unless the source says)
PUBLISHED = {
    ('COCO', 'AP box'): {'ijepa': (49.9, 'C-JEPA paper, ViT-B/16'),
                         'dseq': (50.5, 'DSeq-JEPA project page, ViT-B/16')},
    ('COCO', 'AP mask'): {'ijepa': (44.5, 'C-JEPA paper, ViT-B/16')},
    ('ADE20K', 'mIoU'): {'ijepa': (47.6, 'C-JEPA paper, ViT-B/16')},
    ('CLEVR Count', 'top-1 avg'): {'ijepa': (86.7, 'I-JEPA paper Table 4, ViT-H/14, not VTAB-1k')},
    ('CLEVR Dist', 'top-1 avg'): {'ijepa': (72.4, 'I-JEPA paper Table 4, ViT-H/14, not VTAB-1k')},
}
#: the pseudo-metric holding how many images an accuracy was measured on (not a table row)
SAMPLES = 'num_samples'
_TASKS = {'CocoInstanceDataset': 'COCO', 'ADE20KSegDataset': 'ADE20K'}
_ARCHS = {'s': 'S', 'b': 'B', 'l': 'L', 'h': 'H'}


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
    dataset = config['val_dataloader']['dataset']
    task = _TASKS.get(dataset['type'])
    if dataset['type'] == 'ClevrDataset':
        task = f"CLEVR {dataset['task'].title()}"
    if task is None:
        raise KeyError(f'{source}: no leaderboard task for dataset {dataset["type"]!r}')
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
            warnings.warn(f'{where} is cut off (the run was killed while writing it?): skipped')
    return records


def _evaluations(path: str) -> List[dict]:
    """The rows of an mmengine json log that hold evaluation metrics."""
    if not osp.exists(path):
        return []
    return [r for r in read_json_lines(path) if leaderboard_metrics(r)]


def leaderboard_metrics(logged: dict) -> Dict[str, float]:
    """mmengine's metric keys -> the leaderboard's (AP and accuracies in %)."""
    out = {}
    for key, value in logged.items():
        if key == 'coco/bbox_mAP':
            out['AP box'] = 100 * value
        elif key == 'coco/segm_mAP':
            out['AP mask'] = 100 * value
        elif key == 'mIoU':
            out['mIoU'] = value
        elif key.startswith('clevr_') and '/top1_' in key:
            out[f"top-1 {key.split('/top1_')[1]}"] = value
        elif key.startswith('clevr_') and key.endswith('/num_samples'):
            out[SAMPLES] = value
    return out


def result_of(work_dir: str) -> Tuple[Optional[str], Dict[str, float]]:
    """The run whose numbers stand for a work dir and those numbers: its last test
    (``tools/test.py`` writes ``<run>/<run>.json``), else its last validation."""
    tested, validated = [], []
    for run in run_dirs(work_dir):
        stamp = osp.basename(run)
        tested += [(run, r) for r in _evaluations(osp.join(run, f'{stamp}.json'))]
        validated += [(run, r) for r in _evaluations(osp.join(run, 'vis_data', 'scalars.json'))]
    chosen = tested or validated
    if not chosen:
        return None, {}
    run, logged = chosen[-1]
    return run, leaderboard_metrics(logged)


def collect(work_dirs: Iterable[str]) -> Dict[Tuple[str, str, str], Dict[str, List[float]]]:
    """(size, task, metric) -> method -> values, one per seed. Two work dirs of the same method,
    size, task and seed are an error: neither may silently stand for the other."""
    from mmengine.config import Config
    by_seed: Dict[Tuple[str, str, str], Dict[str, Dict[int, float]]] = \
        defaultdict(lambda: defaultdict(dict))
    work_dir_of: Dict[Tuple[str, str, str, int], str] = {}
    for work_dir in work_dirs:
        run, metrics = result_of(work_dir)
        if run is None:
            print(f'note: {work_dir} has no evaluation yet; its cells stay missing')
            continue
        config = Config.fromfile(osp.join(run, 'vis_data', 'config.py')).to_dict()
        method, size, task, seed = identity = describe(config, run)
        first = work_dir_of.setdefault(identity, work_dir)
        if osp.realpath(first) != osp.realpath(work_dir):
            raise ValueError(f'{first} and {work_dir} are both {METHODS[method]} {size} {task} '
                             f'with seed {seed}, and the table keeps one result per seed: give '
                             'each run its own randomness.seed (--cfg-options randomness.seed=N), '
                             'or pass only one of them')
        for metric, value in metrics.items():
            by_seed[(size, task, metric)][method][seed] = value
    return {key: {method: list(seeds.values()) for method, seeds in methods.items()}
            for key, methods in by_seed.items()}


def cell(values: Optional[List[float]]) -> str:
    if not values:
        return 'missing'
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f} (n={len(values)})'


def rows(table) -> Tuple[List[str], List[List[str]]]:
    header = ['size', 'task', 'metric', 'I-JEPA', 'DSeq-JEPA', 'DSeq - I-JEPA', 'random init',
              'published I-JEPA', 'published DSeq-JEPA']
    order = {'COCO': 0, 'ADE20K': 1, 'CLEVR Count': 2, 'CLEVR Dist': 3}
    out = []
    for size, task, metric in sorted(table, key=lambda k: (k[0], order.get(k[1], 9), k[2])):
        if metric == SAMPLES:
            continue
        by = table[(size, task, metric)]
        diff = 'missing'
        if by.get('ijepa') and by.get('dseq'):
            diff = f"{statistics.mean(by['dseq']) - statistics.mean(by['ijepa']):+.1f}"
        published = PUBLISHED.get((task, metric), {})
        out.append([size, task, metric, cell(by.get('ijepa')), cell(by.get('dseq')), diff,
                    cell(by.get('random')) if by.get('random') else '-',
                    *(f'{published[m][0]} ({published[m][1]})' if m in published else 'missing'
                      for m in ('ijepa', 'dseq'))])
    return header, out


def _standard_error(accuracy: float, samples: Optional[float]) -> Optional[float]:
    """The binomial standard error (%) of an accuracy (%) measured on ``samples`` images."""
    if not samples:
        return None
    p = accuracy / 100
    return 100 * math.sqrt(p * (1 - p) / samples)


def against_random(table) -> List[str]:
    """For every row with a random-init run: whether each pretrained method beats it. Where the
    runs logged their test-set sizes, a gain within two standard errors of the difference (test-set
    sampling only) is called noise, not a win."""
    lines = []
    for (size, task, metric), by in sorted(table.items()):
        if metric == SAMPLES or not by.get('random'):
            continue
        samples = table.get((size, task, SAMPLES), {})
        base = statistics.mean(by['random'])
        base_se = _standard_error(base, min(samples.get('random', [0])))
        for method in ('ijepa', 'dseq'):
            if not by.get(method):
                continue
            value = statistics.mean(by[method])
            gain, se = value - base, _standard_error(value, min(samples.get(method, [0])))
            numbers = f'{value:.1f} vs {base:.1f}, {gain:+.1f}'
            if se is None or base_se is None:
                verdict = 'beats random init' if gain > 0 else 'does NOT beat random init'
            else:
                ratio = gain / math.hypot(se, base_se)
                numbers += f', {ratio:+.1f} standard errors'
                verdict = ('beats random init' if ratio > 2 else
                           'does NOT beat random init beyond noise' if ratio > 0 else
                           'does NOT beat random init')
            lines.append(f'{size} {task} {metric}: {METHODS[method]} {verdict} ({numbers})')
    return lines


def markdown(header: List[str], body: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(r) + ' |' for r in body]) + '\n'


def write_html(path: str, header: List[str], body: List[List[str]]) -> None:
    cells = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    trs = ''.join('<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in r) + '</tr>' for r in body)
    with open(path, 'w') as f:
        f.write('<!DOCTYPE html><html><head><meta charset="utf-8"><title>leaderboard</title>'
                '<style>td,th{border:1px solid #999;padding:4px 8px}table{border-collapse:'
                f'collapse}}</style></head><body><table><tr>{cells}</tr>{trs}</table></body></html>\n')


def write_chart(path: str, table) -> None:
    """Grouped bars per row (mean, std as error bars) for the methods that have runs."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = sorted(k for k in table if k[2] != SAMPLES)
    labels = [f'{task}\n{metric}\n{size}' for size, task, metric in keys]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(keys)), 4), dpi=100)
    width = 0.8 / len(METHODS)
    for i, (method, name) in enumerate(METHODS.items()):
        xs, ys, errs = [], [], []
        for x, key in enumerate(keys):
            values = table[key].get(method)
            if values:
                xs.append(x + (i - (len(METHODS) - 1) / 2) * width)
                ys.append(statistics.mean(values))
                errs.append(statistics.stdev(values) if len(values) > 1 else 0.0)
        ax.bar(xs, ys, width, yerr=errs, label=name, capsize=3)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel('% (AP, mIoU, top-1)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_all(work_dirs: Iterable[str], out: str) -> str:
    """Write the four files to ``out``; return the markdown table."""
    table = collect(work_dirs)
    header, body = rows(table)
    os.makedirs(out, exist_ok=True)
    text = markdown(header, body)
    verdicts = against_random(table)
    if verdicts:
        text += '\nAgainst a randomly initialised encoder of the same size:\n\n' + \
            ''.join(f'- {line}\n' for line in verdicts)
    with open(osp.join(out, 'leaderboard.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out, 'leaderboard.csv'), 'w', newline='') as f:
        csv.writer(f).writerows([header] + body)
    write_html(osp.join(out, 'leaderboard.html'), header, body)
    write_chart(osp.join(out, 'leaderboard.png'), table)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--out', default='work_dirs/leaderboard')
    args = parser.parse_args()
    print(write_all(args.work_dirs, args.out), end='')
    print(f'(written to {args.out}/leaderboard.{{md,csv,html,png}})')


if __name__ == '__main__':
    main()
