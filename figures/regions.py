"""Pictures of DSeq-JEPA's saliency and ordered regions (``tools/visualize_regions.py``).

For each image, ``<out>/<image>.png`` shows the image, the saliency of the target encoder, the Otsu
foreground and the regions R1..RN over the image, numbered in their order (RN, the rest, in grey).
With several checkpoints the last gives those pictures, and ``<out>/regions_grid.png`` shows the
regions of every image (columns) at every checkpoint (rows), to see how the order evolves.
"""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from figures.checkpoint_regions import Regions, checkpoints_of, regions_at

PANEL = 256  # pixels per picture
TITLE = 28  # pixels above each row for titles
_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230]], dtype=np.float64) / 255


def upsample(grid: torch.Tensor, size: int) -> np.ndarray:
    """A token grid as a size x size picture, each token a block of pixels."""
    return F.interpolate(grid[None, None].float(), size=(size, size), mode='nearest')[0, 0].numpy()


def draw_regions(ax, pixels: np.ndarray, regions: torch.Tensor, grid: Tuple[int, int]) -> None:
    """The image with each region tinted and numbered by rank; the rest (RN) greyed."""
    size = pixels.shape[0]
    out = pixels.astype(np.float64) / 255
    rest = upsample(regions[-1].view(grid), size) > 0
    out[rest] = 0.6 * out[rest].mean(-1, keepdims=True)
    for k, region in enumerate(regions[:-1]):
        mask = upsample(region.view(grid), size) > 0
        if not mask.any():
            continue
        out[mask] = 0.5 * out[mask] + 0.5 * _COLOURS[k % len(_COLOURS)]
        ys, xs = np.nonzero(mask)
        ax.text(xs.mean(), ys.mean(), f'R{k + 1}', color='white', fontsize=11, ha='center',
                va='center', fontweight='bold',
                bbox=dict(facecolor='black', alpha=0.5, pad=1, linewidth=0))
    ax.imshow(out)


def figure(rows: int, cols: int, header: int = 0):
    """A figure of rows x cols panels of ``PANEL`` pixels, each under a ``TITLE`` strip, below a
    free strip of ``header`` pixels (for a caption)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    dpi = 100
    height = header + rows * (PANEL + TITLE)
    fig = plt.figure(figsize=(cols * PANEL / dpi, height / dpi), dpi=dpi)
    axes = []
    for r in range(rows):
        for c in range(cols):
            bottom = 1 - (header + (r + 1) * (PANEL + TITLE)) / height
            axes.append(fig.add_axes([c / cols, bottom, 1 / cols, PANEL / height]))
            axes[-1].set_axis_off()
    return fig, axes


def write_pictures(found: Regions, images: List[str], out: str) -> None:
    """One picture per image: image, saliency, foreground and regions side by side."""
    for i, path in enumerate(images):
        fig, axes = figure(1, 4)
        pixels = found.pixels[i]
        axes[0].imshow(pixels)
        axes[1].imshow(upsample(found.saliency[i], pixels.shape[0]), cmap='inferno', vmin=0, vmax=1)
        axes[2].imshow(upsample(found.foreground[i], pixels.shape[0]), cmap='gray', vmin=0, vmax=1)
        draw_regions(axes[3], pixels, found.regions[i], found.grid)
        for ax, title in zip(axes, ['image', 'saliency', 'Otsu foreground',
                                    f'regions (iter {found.step})']):
            ax.set_title(title, fontsize=10)
        name = osp.splitext(osp.basename(path))[0]
        fig.savefig(osp.join(out, f'{name}.png'))
        fig.clf()


def write_grid(overlays: List[Regions], images: List[str], out: str) -> None:
    """The regions of every image (columns) at every checkpoint (rows) in ``regions_grid.png``."""
    fig, axes = figure(len(overlays), len(images))
    for r, found in enumerate(overlays):
        for c in range(len(images)):
            ax = axes[r * len(images) + c]
            draw_regions(ax, found.pixels[c], found.regions[c], found.grid)
            ax.set_title(f'iter {found.step}: {osp.basename(images[c])}', fontsize=9)
    fig.savefig(osp.join(out, 'regions_grid.png'))


def visualize(checkpoint: str, images: List[str], out: str) -> str:
    """Write the pictures of a checkpoint, or of every checkpoint of a work dir, for the images to
    ``out``; return what was written."""
    for path in images:
        if not osp.isfile(path):
            raise FileNotFoundError(f'image not found: {path}')
    os.makedirs(out, exist_ok=True)
    overlays = [regions_at(path, images) for path in checkpoints_of(checkpoint)]
    write_pictures(overlays[-1], images, out)
    if len(overlays) > 1:
        write_grid(overlays, images, out)
    return f'wrote {len(images)} pictures' + (' and regions_grid.png' if len(overlays) > 1
                                              else '') + f' to {out}'
