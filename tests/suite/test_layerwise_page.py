"""The layer-wise curve of the leaderboard (suite.layerwise, drawn by suite.leaderboard.write_all):
a panel per size and task whose rows are layer-wise, a line per method and readout through the seed
means, on the page; none without layer-wise rows."""
import statistics

import pytest
from PIL import Image

from suite import layerwise, leaderboard, methods, results
from tests.suite.test_leaderboard import REPORTS, _referenced, fake_run

TASK = 'ImageNet-1k layer-wise'
DEPTH = 4
#: what a layer-wise config declares (configs/layerwise/), for DEPTH blocks, the last first
LAYERWISE = dict(task=TASK, protocol=f'top-1 block {DEPTH} avg', metrics={
    f'accuracy/top1_block{k}_{kind}': (f'top-1 block {k} {kind}', 1)
    for k in range(DEPTH, 0, -1) for kind in ('avg', 'cls')})


def logged(offset: float, cls: bool) -> dict:
    """A layer-wise test log: block k's avg at offset + 10k, its cls 5 above (DSeq-JEPA only)."""
    out = {f'accuracy/top1_block{k}_avg': offset + 10 * k for k in range(1, DEPTH + 1)}
    if cls:
        out.update({f'accuracy/top1_block{k}_cls': offset + 10 * k + 5
                    for k in range(1, DEPTH + 1)})
    return out


@pytest.fixture
def layerwise_dirs(tmp_path, monkeypatch):
    """Layer-wise runs: DSeq-JEPA over two seeds, I-JEPA (no CLS) and random init over one; a COCO
    run beside them, whose rows are not layer-wise."""
    monkeypatch.setitem(REPORTS, 'layerwise', LAYERWISE)
    runs = {('dseq', 0): 3.0, ('dseq', 1): 5.0, ('ijepa', 0): 1.0, ('random', 0): -2.0}
    dirs = [fake_run(tmp_path / f'lw_{m}_s{seed}', '20260101_000000', m, 'layerwise', seed=seed,
                     test=logged(offset, cls=m != 'ijepa'))
            for (m, seed), offset in runs.items()]
    dirs.append(fake_run(tmp_path / 'coco_dseq', '20260101_000000', 'dseq', 'coco',
                         val=[{'coco/bbox_mAP': 0.455, 'coco/segm_mAP': 0.401}]))
    return dirs


def drawn(monkeypatch) -> list:
    """The figures write_layerwise draws, kept for the test to read."""
    figures = []

    def keep(*args):
        figures.append(plot(*args))
        return figures[-1]
    plot = layerwise.plot_layerwise
    monkeypatch.setattr(layerwise, 'plot_layerwise', keep)
    return figures


def test_the_page_shows_a_line_per_method_and_readout_through_the_seed_means(
        tmp_path, layerwise_dirs, monkeypatch):
    figures = drawn(monkeypatch)
    out = tmp_path / 'board'
    leaderboard.write_all(layerwise_dirs, str(out))
    with Image.open(out / 'layerwise.png') as im:
        assert im.format == 'PNG'
    assert sorted(set(_referenced(out / 'leaderboard.html'))) == \
        ['layerwise.png', 'leaderboard.png']
    (fig,) = figures
    (ax,) = fig.axes  # one panel: COCO's rows are not layer-wise
    assert ax.get_title() == f'{TASK}, ViT-B/16'
    lines = {line.get_label(): line for line in ax.lines}
    blocks = list(range(1, DEPTH + 1))
    expected = {  # (label, readout) -> the runs' offsets, one per seed
        ('DSeq-JEPA', 'patch average', '-'): [3.0, 5.0], ('DSeq-JEPA', 'CLS token', '--'): [8, 10],
        ('I-JEPA', 'patch average', '-'): [1.0], ('random init', 'patch average', '-'): [-2.0],
        ('random init', 'CLS token', '--'): [3.0]}
    assert set(lines) == {f'{label} ({name})' for label, name, _ in expected}
    for (label, name, style), offsets in expected.items():
        line = lines[f'{label} ({name})']
        assert list(line.get_xdata()) == blocks and line.get_linestyle() == style
        assert list(line.get_ydata()) == pytest.approx(
            [statistics.mean(o + 10 * k for o in offsets) for k in blocks])
    # a method keeps its colour over its readouts
    assert lines['DSeq-JEPA (patch average)'].get_color() == \
        lines['DSeq-JEPA (CLS token)'].get_color() != lines['I-JEPA (patch average)'].get_color()


def test_a_panel_per_size_and_task_blocks_in_order_other_rows_left_out():
    rows = {('ViT-B/16', 'B task', f'top-1 block {k} avg'): {'ijepa': [float(k)]}
            for k in (3, 1, 2)}  # listed out of order
    rows[('ViT-B/16', 'B task', 'top-1 avg')] = {'ijepa': [99.0]}
    rows[('ViT-B/16', 'B task', 'top-1 block 2 concat4')] = {'ijepa': [99.0]}
    rows[('ViT-96x6/16', 'A task', 'top-1 block 1 cls')] = {'dseq': [7.0, 9.0], 'ijepa': []}
    shown = [methods.METHODS[m] for m in ('ijepa', 'dseq')]
    curves = layerwise.layerwise_curves(rows, shown)
    assert curves == {('ViT-96x6/16', 'A task'): {('dseq', 'cls'): ([1], [8.0])},
                      ('ViT-B/16', 'B task'): {('ijepa', 'avg'): ([1, 2, 3], [1.0, 2.0, 3.0])}}
    fig = layerwise.plot_layerwise(curves, shown)
    assert [a.get_title() for a in fig.axes] == ['A task, ViT-96x6/16', 'B task, ViT-B/16']
    assert [line.get_label() for line in fig.axes[1].lines] == ['I-JEPA (patch average)']


def test_no_picture_without_layer_wise_rows(tmp_path, layerwise_dirs):
    out = tmp_path / 'board'
    leaderboard.write_all(layerwise_dirs, str(out))
    assert (out / 'layerwise.png').is_file()
    coco = layerwise_dirs[-1:]
    assert not layerwise.layerwise_curves(results.collect(coco).table, methods.in_table_order())
    leaderboard.write_all(coco, str(out))  # the same folder: the earlier curve goes
    assert not (out / 'layerwise.png').exists()
    assert sorted(set(_referenced(out / 'leaderboard.html'))) == ['leaderboard.png']
