"""The paper's patch clustering over pretraining (SPEC section 4c; ``tools/visualize_clusters.py``).

Per image and checkpoint, the target encoder's raw patch outputs of a few blocks (3, 5, 7 and 11 of
ViT-B's 12, the same fractions of depth for other depths) are clustered into k groups by spectral
clustering of their cosine affinities (negative ones clamped to 0): the k eigenvectors of the
symmetric normalised Laplacian with the smallest eigenvalues, rows normalised, then k-means. For
each image, ``clusters_<image>.png`` draws the groups over the image: a row per checkpoint (by
iteration), a column per block, the methods' column groups side by side.
"""
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Sequence, Tuple, Union

import numpy as np
import torch

from figures.checkpoint_regions import checkpoints_of, load_model, model_inputs
from figures.regions import figure, upsample

#: the blocks (from 0) the paper clusters in ViT-B's 12
PAPER_BLOCKS = (3, 5, 7, 11)
PAPER_DEPTH = 12
MAX_K = 20  # the colours of matplotlib's largest qualitative map
HEADER = 40  # pixels of caption above a figure's panels


class Clusters(NamedTuple):
    """A checkpoint's clusters for a list of images: their pixels as the model saw them, the labels
    (images, blocks, patches) in range(k), the token grid (h, w), the blocks and the iteration."""
    pixels: List[np.ndarray]
    labels: np.ndarray
    grid: Tuple[int, int]
    blocks: List[int]
    step: Union[int, str]


def cluster_blocks(depth: int) -> List[int]:
    """The blocks (from 0) at the paper's fractions of depth: block b of 12 ends (b + 1) / 12 of the
    way through, so a ``depth``-block encoder takes round((b + 1) * depth / 12) - 1, halves rounded
    up and at least block 0; blocks that coincide in a shallow encoder are taken once."""
    if depth < 1:
        raise ValueError(f'depth must be positive, got {depth}')
    scaled = (max(int(np.floor((b + 1) * depth / PAPER_DEPTH + 0.5)) - 1, 0) for b in PAPER_BLOCKS)
    return list(dict.fromkeys(scaled))


def normalised_laplacian(affinity: np.ndarray) -> np.ndarray:
    """I - D^-1/2 A D^-1/2 of a symmetric non-negative affinity A with degrees D."""
    inv_sqrt = 1 / np.sqrt(np.maximum(affinity.sum(1), 1e-12))  # an isolated patch has degree 0
    return np.eye(len(affinity)) - inv_sqrt[:, None] * affinity * inv_sqrt[None, :]


def spectral_embedding(tokens: np.ndarray, k: int) -> np.ndarray:
    """Rows (N, k): the k eigenvectors of the normalised Laplacian of the tokens' clamped cosine
    affinities with the smallest eigenvalues, each row scaled to unit length."""
    unit = tokens / np.maximum(np.linalg.norm(tokens, axis=1, keepdims=True), 1e-12)
    affinity = np.clip(unit @ unit.T, 0, None)
    _, vectors = np.linalg.eigh(normalised_laplacian(affinity))  # eigenvalues ascending
    rows = vectors[:, :k]
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k starting centres, each drawn with probability proportional to its squared distance from
    the centres drawn before (uniformly where every point is a centre already)."""
    centres = [points[rng.integers(len(points))]]
    for _ in range(k - 1):
        far = ((points[:, None] - np.array(centres)[None]) ** 2).sum(-1).min(1)
        total = far.sum()
        centres.append(points[rng.choice(len(points), p=far / total) if total > 0
                              else rng.integers(len(points))])
    return np.array(centres)


def lloyd(points: np.ndarray, centres: np.ndarray,
          iterations: int = 100) -> Tuple[np.ndarray, float]:
    """k-means from the given centres until no label changes: labels and their summed squared
    distances. An emptied cluster keeps its centre."""
    labels = None
    for _ in range(iterations):
        distances = ((points[:, None] - centres[None]) ** 2).sum(-1)
        new = distances.argmin(1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        centres = np.stack([points[labels == c].mean(0) if (labels == c).any() else centres[c]
                            for c in range(len(centres))])
    return labels, float(distances[np.arange(len(points)), labels].sum())


def kmeans(points: np.ndarray, k: int, seed: int = 0, restarts: int = 10) -> np.ndarray:
    """The labels of the best (least squared distance) of ``restarts`` k-means++ runs."""
    rng = np.random.default_rng(seed)
    runs = [lloyd(points, kmeans_plus_plus(points, k, rng)) for _ in range(restarts)]
    return min(runs, key=lambda run: run[1])[0]


def in_order_of_appearance(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... in raster order of their first patch, so that equal partitions
    get equal labels (and the top-left patch's group the first colour in every panel)."""
    values, first = np.unique(labels, return_index=True)
    renumber = np.zeros(values.max() + 1, dtype=np.int64)
    renumber[values[np.argsort(first)]] = np.arange(len(values))
    return renumber[labels]


def spectral_clusters(tokens: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Labels (N,) in range(k) of tokens (N, D) by spectral clustering of their cosine affinities
    with negatives clamped to 0, numbered in raster order of appearance."""
    tokens = np.asarray(tokens, dtype=np.float64)
    if not 2 <= k <= len(tokens):
        raise ValueError(f'k must be between 2 and the number of tokens ({len(tokens)}), got {k}')
    return in_order_of_appearance(kmeans(spectral_embedding(tokens, k), k, seed))


@torch.no_grad()
def block_tokens(encoder, images: torch.Tensor, blocks: Sequence[int]) -> List[torch.Tensor]:
    """The raw patch outputs (B, N, D) of the blocks (no final LayerNorm, no prefix tokens)."""
    return encoder.forward_intermediates(images, list(blocks), norm=False, output_fmt='NLC',
                                         intermediates_only=True)


def clusters_at(checkpoint: str, images: List[str], k: int = 5, seed: int = 0) -> Clusters:
    """The spectral clusters of the target encoder's patches at ``cluster_blocks`` of its depth,
    for every image, at a pretraining checkpoint (I-JEPA or DSeq-JEPA)."""
    model, cfg, step = load_model(checkpoint)
    encoder = model.target_encoder
    pixels, batch = model_inputs(model, cfg, images)
    blocks = cluster_blocks(encoder.depth)
    tokens = block_tokens(encoder, batch, blocks)
    labels = np.array([[spectral_clusters(t[i].double().numpy(), k, seed) for t in tokens]
                       for i in range(len(images))])
    return Clusters(pixels, labels, tuple(encoder.grid_size), blocks, step)


def palette(k: int) -> np.ndarray:
    """k distinct RGB colours in [0, 1]."""
    import matplotlib
    if not 2 <= k <= MAX_K:
        raise ValueError(f'k must be between 2 and {MAX_K} to get distinct colours, got {k}')
    return matplotlib.colormaps['tab10' if k <= 10 else 'tab20'].colors[:k]


def overlay(pixels: np.ndarray, labels: np.ndarray, grid: Tuple[int, int], k: int) -> np.ndarray:
    """The image (H, W, 3) with each patch's cluster colour blended in, patches upsampled
    nearest."""
    per_pixel = upsample(torch.from_numpy(labels).view(grid), pixels.shape[0]).astype(int)
    return 0.5 * pixels.astype(np.float64) / 255 + 0.5 * np.asarray(palette(k))[per_pixel]


def caption(k: int) -> str:
    """What a clusters figure shows, and that its colours mean nothing across panels."""
    return (f'k = {k} spectral clusters of the target encoder\'s patch outputs; rows: checkpoints, '
            'columns: blocks per method.\nColours have no meaning across panels (groups are '
            'numbered in raster order of their first patch).')


def draw_image(runs: Dict[str, List[Clusters]], image: int, k: int):
    """The figure of one image: a row per checkpoint, the methods' blocks as column groups."""
    rows = max(len(found) for found in runs.values())
    cols = sum(len(found[0].blocks) for found in runs.values())
    fig, axes = figure(rows, cols, header=HEADER)
    fig.text(0.5, 1 - 4 / fig.bbox.height, caption(k), ha='center', va='top', fontsize=11)
    first = 0
    for label, found in runs.items():
        for r, at in enumerate(found):
            for c, block in enumerate(at.blocks):
                ax = axes[r * cols + first + c]
                ax.imshow(overlay(at.pixels[image], at.labels[image, c], at.grid, k))
                ax.set_title(f'{label} · iter {at.step} · block {block}', fontsize=10)
        first += len(found[0].blocks)
    return fig


def visualize_clusters(runs: Dict[str, str], images: List[str], out: str, k: int = 5) -> List[str]:
    """Write ``out/clusters_<image stem>.png`` for every image, over every checkpoint of each
    labelled run (a work dir or one checkpoint); return the paths written."""
    import matplotlib.pyplot as plt
    for path in images:
        if not osp.isfile(path):
            raise FileNotFoundError(f'image not found: {path}')
    palette(k)  # an unusable k fails before any model runs
    checkpoints = {label: checkpoints_of(path) for label, path in runs.items()}  # all found first
    found = {label: [clusters_at(c, images, k) for c in paths]
             for label, paths in checkpoints.items()}
    os.makedirs(out, exist_ok=True)
    written = []
    for i, path in enumerate(images):
        fig = draw_image(found, i, k)
        written.append(osp.join(out, f'clusters_{osp.splitext(osp.basename(path))[0]}.png'))
        fig.savefig(written[-1])
        plt.close(fig)
    return written
