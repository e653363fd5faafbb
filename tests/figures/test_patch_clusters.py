"""The paper's patch clusters (figures/patch_clusters.py, tools/visualize_clusters.py) against
planted partitions and a brute-force normalised Laplacian, on checkpoints written here (no
training); the training curves (figures/curves.py, tools/plot_curves.py) from fabricated mmengine
logs."""
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import scipy.linalg
import torch
from mmengine.config import Config
from PIL import Image

from tests.helpers import ROOT
from figures.checkpoint_regions import load_model, model_inputs, regions_at
from figures.curves import PANELS, curves, plot_curves
from figures.patch_clusters import (HEADER, cluster_blocks, clusters_at, overlay, palette,
                                  spectral_clusters, spectral_embedding)
from figures.regions import PANEL, TITLE

SMOKE = {m: osp.join(ROOT, 'configs', 'pretrain', f'{m}_vittiny_synthclevr.py')
         for m in ('ijepa', 'dseq')}


def planted(sizes, dim=32, noise=0.05, seed=0):
    """Tokens drawn around orthonormal directions, one per group, in shuffled order; and the
    groups."""
    rng = np.random.default_rng(seed)
    directions = np.linalg.qr(rng.standard_normal((dim, len(sizes))))[0].T
    truth = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    return directions[truth] + noise * rng.standard_normal((len(truth), dim)), truth


def numbered_by_appearance(labels) -> np.ndarray:
    """Labels renumbered 0, 1, ... in order of their first occurrence."""
    first = {}
    for v in labels:
        first.setdefault(v, len(first))
    return np.array([first[v] for v in labels])


@pytest.mark.parametrize('sizes,seed', [((30, 30, 30, 30, 30), 0), ((60, 40, 20, 12, 12), 1),
                                        ((49, 49, 49, 49), 2)])
def test_spectral_clusters_recover_a_planted_partition(sizes, seed):
    tokens, truth = planted(sizes, seed=seed)
    labels = spectral_clusters(tokens, k=len(sizes), seed=seed)
    # the partition, numbered by first appearance, is the truth's
    np.testing.assert_array_equal(labels, numbered_by_appearance(truth))


def brute_force_embedding(tokens: np.ndarray, k: int) -> np.ndarray:
    """SPEC section 4c entry by entry: affinities max(0, cos), L = I - D^-1/2 A D^-1/2, its k lowest
    eigenvectors (LAPACK's subset solver), each row scaled to unit length."""
    n = len(tokens)
    affinity = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            cos = tokens[i] @ tokens[j] / (np.linalg.norm(tokens[i]) * np.linalg.norm(tokens[j]))
            affinity[i, j] = max(0.0, cos)
    degree = affinity.sum(1)
    laplacian = np.array([[(i == j) - affinity[i, j] / np.sqrt(degree[i] * degree[j])
                           for j in range(n)] for i in range(n)])
    _, vectors = scipy.linalg.eigh(laplacian, subset_by_index=[0, k - 1], driver='evr')
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize('noise', [0.05, 0.5])
def test_spectral_embedding_is_the_normalised_laplacians_lowest_eigenvectors(noise):
    tokens, _ = planted((20, 20, 15, 10, 10), noise=noise, seed=3)
    ours, reference = spectral_embedding(tokens, 5), brute_force_embedding(tokens, 5)
    # eigenvectors are unique up to a rotation within the eigenspace: compare row Gram matrices
    np.testing.assert_allclose(ours @ ours.T, reference @ reference.T, atol=1e-8)


def test_spectral_clusters_are_seeded_and_check_k():
    tokens, _ = planted((10,) * 6, noise=0.8, seed=4)
    assert np.array_equal(spectral_clusters(tokens, 6, seed=1),
                          spectral_clusters(tokens, 6, seed=1))
    for k in (1, len(tokens) + 1):
        with pytest.raises(ValueError, match='k must be between 2'):
            spectral_clusters(tokens, k)


@pytest.mark.parametrize('depth,blocks', [(12, [3, 5, 7, 11]), (6, [1, 2, 3, 5]),
                                          (24, [7, 11, 15, 23]), (32, [10, 15, 20, 31]),
                                          (3, [0, 1, 2]), (1, [0])])
def test_cluster_blocks_are_the_papers_fractions_of_depth(depth, blocks):
    assert cluster_blocks(depth) == blocks


def test_overlay_blends_each_patch_with_its_clusters_colour():
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    labels = rng.integers(0, 4, 9)
    colours = np.asarray(palette(4))
    expected = np.kron(labels.reshape(3, 3), np.ones((16, 16), dtype=int))  # 16-pixel patches
    np.testing.assert_allclose(overlay(pixels, labels, (3, 3), 4),
                               0.5 * pixels / 255 + 0.5 * colours[expected])
    assert len({tuple(c) for c in colours}) == 4


def write_checkpoint(path, method: str, seed: int, step: int) -> None:
    """A pretraining checkpoint as tools/train.py writes it (weights, meta.cfg, meta.iter) of a
    freshly built model, its target encoder made to differ from the context encoder."""
    import pretrain
    cfg = Config.fromfile(SMOKE[method])
    torch.manual_seed(seed)
    model = getattr(pretrain, cfg.model.type)(**{k: v for k, v in cfg.model.items() if k != 'type'})
    with torch.no_grad():
        for p in model.target_encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.save(dict(meta=dict(cfg=cfg.pretty_text, iter=step), state_dict=model.state_dict()), path)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Work dirs of both methods with checkpoints at iterations 2 and 10, and four CLEVR images."""
    from synthetic import GENERATORS
    tmp = tmp_path_factory.mktemp('clusters')
    dirs = {}
    for seed, method in enumerate(('ijepa', 'dseq')):
        dirs[method] = tmp / method
        dirs[method].mkdir()
        for step in (2, 10):
            write_checkpoint(dirs[method] / f'iter_{step}.pth', method, 10 * seed + step, step)
    GENERATORS['clevr'](str(tmp / 'clevr'), num_train=1, num_val=4, seed=0)
    images = sorted(str(p) for p in (tmp / 'clevr').glob('CLEVR_v1.0/images/val/*.png'))
    return tmp, dirs, images


def test_clusters_are_those_of_the_target_encoders_raw_block_outputs(runs):
    _, dirs, images = runs
    checkpoint = str(dirs['dseq'] / 'iter_10.pth')
    found = clusters_at(checkpoint, images, k=5)
    assert found.blocks == [1, 2, 3, 5] and found.grid == (12, 12) and found.step == 10
    assert found.labels.shape == (4, 4, 144)  # images, blocks, patches
    model, cfg, _ = load_model(checkpoint)
    encoder, outputs = model.target_encoder, {}
    for b in found.blocks:  # what the blocks themselves return, caught on the way
        encoder.blocks[b].register_forward_hook(lambda _m, _i, out, b=b: outputs.setdefault(b, out))
    with torch.no_grad():
        encoder(model_inputs(model, cfg, images)[1])
    for i in range(len(images)):
        for c, b in enumerate(found.blocks):
            raw = outputs[b][i, encoder.num_prefix_tokens:]  # the patches, no final LayerNorm
            expected = spectral_clusters(raw.double().numpy(), 5)
            np.testing.assert_array_equal(found.labels[i, c], expected,
                                          err_msg=f'image {i} block {b}')
            assert set(found.labels[i, c]) <= set(range(5))


def run_cli(tool: str, *args: str, monkeypatch) -> None:
    """``tools/<tool>`` in this process, as from the command line."""
    monkeypatch.setattr(sys, 'argv', [tool, *args])
    runpy.run_path(osp.join(ROOT, 'tools', tool), run_name='__main__')


def test_the_cli_draws_a_grid_per_image(runs, monkeypatch, capsys):
    tmp, dirs, images = runs
    out = tmp / 'pictures'
    # a work dir (two checkpoints) beside a single checkpoint: two rows, the second half empty
    run_cli('visualize_clusters.py', f'ijepa={dirs["ijepa"]}', f'dseq={dirs["dseq"]}/iter_10.pth',
            '--images', *images, '--out', str(out), '--k', '4', monkeypatch=monkeypatch)
    written = [str(out / f'clusters_CLEVR_val_00000{i}.png') for i in range(4)]
    assert capsys.readouterr().out.split() == written
    for path in written:
        with Image.open(path) as im:  # columns: 4 blocks per method; rows: the most checkpoints
            assert im.format == 'PNG' and im.size == (8 * PANEL, HEADER + 2 * (PANEL + TITLE))
            panel = np.asarray(im.convert('RGB'))[HEADER + TITLE:HEADER + TITLE + PANEL, :PANEL]
            assert panel.std() > 10  # an image under colours, not a blank canvas
            empty = np.asarray(im.convert('RGB'))[-PANEL:, -PANEL:]
            assert (empty == 255).all()  # the single checkpoint has no second row


@pytest.mark.parametrize('make_args,message', [
    (lambda tmp, dirs, images: ['a=' + str(tmp / 'absent'), '--images', *images],
     'no checkpoint at {tmp}/absent'),
    (lambda tmp, dirs, images: ['a=' + str(tmp), '--images', *images], 'no checkpoint at {tmp} '),
    (lambda tmp, dirs, images: [str(dirs['dseq']), '--images', *images], 'expected LABEL=PATH'),
    (lambda tmp, dirs, images: [f'a={dirs["dseq"]}', f'a={dirs["ijepa"]}', '--images', *images],
     "label 'a' given twice"),
    (lambda tmp, dirs, images: [f'a={dirs["dseq"]}', '--images', str(tmp / 'x.png')],
     'image not found: {tmp}/x.png'),
    (lambda tmp, dirs, images: [f'a={dirs["dseq"]}', '--images', *images, '--k', '21'],
     'k must be between 2 and 20'),
])
def test_the_cli_names_what_is_wrong(runs, monkeypatch, make_args, message):
    tmp, dirs, images = runs
    with pytest.raises(SystemExit) as exit_:
        run_cli('visualize_clusters.py', *make_args(tmp, dirs, images), '--out', str(tmp / 'bad'),
                monkeypatch=monkeypatch)
    assert exit_.value.code.startswith('error: ') and message.format(tmp=tmp) in exit_.value.code


def test_the_loader_takes_both_methods_but_regions_need_dseq(runs):
    _, dirs, images = runs
    model, _, step = load_model(str(dirs['ijepa'] / 'iter_2.pth'))
    assert type(model).__name__ == 'IJEPA' and step == 2
    with pytest.raises(ValueError, match='regions need DSeq-JEPA'):
        regions_at(str(dirs['ijepa'] / 'iter_2.pth'), images[:1])


def test_the_loader_refuses_a_checkpoint_of_another_model(tmp_path):
    cfg = Config(dict(model=dict(type='VisionTransformer', arch='s')))
    torch.save(dict(meta=dict(cfg=cfg.pretty_text), state_dict={}), tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='not a JEPA pretraining one'):
        load_model(str(tmp_path / 'other.pth'))


def write_run(work_dir, stamp: str, rows) -> None:
    """A run folder as mmengine writes it: its config and its scalars.json."""
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'config.py').write_text('model = dict()\n')
    (vis / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in rows))


@pytest.fixture
def logs(tmp_path):
    """An I-JEPA work dir killed after step 6 and resumed from step 4, with the kNN monitor from
    step 8; a DSeq-JEPA work dir of one run without it."""
    def row(step, loss, **more):
        return dict(lr=1e-3 * step, loss=loss, target_rank=5.0 + step, iter=step, step=step, **more)
    ijepa, dseq = tmp_path / 'ijepa', tmp_path / 'dseq'
    write_run(ijepa, '20240101_000000', [row(2, 0.9), row(4, 0.8), row(6, 0.7)])
    write_run(ijepa, '20240101_010000', [row(4, 0.85), row(6, 0.75), row(8, 0.6, knn_top1=31.0),
                                         row(10, 0.5, knn_top1=35.5)])
    write_run(dseq, '20240101_000000', [dict(lr=5e-4, loss=1.0, iter=5, step=5),
                                        dict(lr=2e-4, loss=0.4, iter=10, step=10)])
    return tmp_path, ijepa, dseq


def test_curves_continue_across_a_resumed_run(logs):
    _, ijepa, dseq = logs
    found = curves(str(ijepa))
    assert found['loss'] == ([2, 4, 6, 8, 10], [0.9, 0.85, 0.75, 0.6, 0.5])
    assert found['knn_top1'] == ([8, 10], [31.0, 35.5])
    assert found['target_rank'] == ([2, 4, 6, 8, 10], [7.0, 9.0, 11.0, 13.0, 15.0])
    assert found['lr'][0] == [2, 4, 6, 8, 10]
    assert set(curves(str(dseq))) == {'loss', 'lr'}


def test_the_curves_picture_has_a_panel_per_logged_key(logs, monkeypatch, capsys):
    tmp, ijepa, dseq = logs
    run_cli('plot_curves.py', f'ijepa={ijepa}', f'dseq={dseq}', '--out', str(tmp / 'both.png'),
            monkeypatch=monkeypatch)
    assert capsys.readouterr().out.strip() == str(tmp / 'both.png')
    assert plot_curves({'dseq': str(dseq)}, str(tmp / 'dseq.png')) == str(tmp / 'dseq.png')
    with Image.open(tmp / 'both.png') as both, Image.open(tmp / 'dseq.png') as one:
        assert both.size == (450 * len(PANELS), 360)  # loss, rank, kNN, lr at 4.5 x 3.6 inches
        assert one.size == (450 * 2, 360)  # loss and lr only


@pytest.mark.parametrize('name,message', [('absent', 'work dir not found: {tmp}/absent'),
                                          ('empty', '{tmp}/empty holds no run')])
def test_the_curves_cli_names_what_is_wrong(tmp_path, monkeypatch, name, message):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit) as exit_:
        run_cli('plot_curves.py', f'a={tmp_path / name}', '--out', str(tmp_path / 'x.png'),
                monkeypatch=monkeypatch)
    assert exit_.value.code.startswith('error: ' + message.format(tmp=tmp_path))
