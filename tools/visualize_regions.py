"""Draw DSeq-JEPA's saliency and ordered regions for images, from pretraining checkpoints.

    python tools/visualize_regions.py CHECKPOINT IMAGE [IMAGE ...] --out DIR
    python tools/visualize_regions.py WORK_DIR IMAGE [IMAGE ...] --out DIR   # every checkpoint

For each image, ``DIR/<image>.png`` shows the image, the saliency of the target encoder (the same
pass and block as in training), the Otsu foreground and the regions R1..RN over the image, numbered
in their order (RN, the rest, in grey). With a work dir (or several checkpoints) the last checkpoint
gives those pictures and ``DIR/regions_grid.png`` shows the regions of every image (columns) at
every checkpoint (rows, by iteration), to see how the order evolves during training.
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys
from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

PANEL = 256  # pixels per picture
TITLE = 28  # pixels above each row for titles
_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230]], dtype=np.float64) / 255


def checkpoints_of(path: str) -> List[str]:
    """A checkpoint file, or every ``*.pth`` of a work dir ordered by iteration or epoch."""
    if osp.isfile(path):
        return [path]
    found = glob.glob(osp.join(path, '*.pth'))
    if not found:
        raise FileNotFoundError(f'no checkpoint at {path} (a .pth file or a work dir holding them)')

    def number(p: str) -> int:
        digits = re.findall(r'\d+', osp.basename(p))
        return int(digits[-1]) if digits else -1
    return sorted(found, key=number)


def load_model(path: str):
    """The DSeq-JEPA model of a pretraining checkpoint, built from the config saved in it."""
    from mmengine.config import Config
    from mmengine.registry import MODELS
    from mmengine.runner import CheckpointLoader

    import pretrain  # noqa: F401  (registers the models; imports backbones' safe loading)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    text = ckpt.get('meta', {}).get('cfg') if isinstance(ckpt, dict) else None
    if not text:
        raise KeyError(f'{path} carries no config (meta.cfg): pass a checkpoint written by '
                       'pretraining with tools/train.py')
    cfg = Config.fromstring(text, '.py')
    if cfg.model.get('type') != 'DSeqJEPA':
        raise ValueError(f'{path} is a {cfg.model.get("type")} checkpoint; regions need DSeq-JEPA '
                         '(its CLS token gives the saliency)')
    model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'])
    step = ckpt.get('meta', {}).get('iter', osp.basename(path))
    return model.eval(), cfg, step


def prepare(path: str, size: int, mean, std) -> Tuple[np.ndarray, torch.Tensor]:
    """The image resized (short side) and centre-cropped to size x size, and its model input."""
    with Image.open(path) as img:
        img = img.convert('RGB')
        scale = size / min(img.size)
        img = img.resize((max(size, round(img.width * scale)), max(size, round(img.height * scale))),
                         Image.BICUBIC)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        pixels = np.array(img.crop((left, top, left + size, top + size)))
    x = (torch.from_numpy(pixels).permute(2, 0, 1).float() - torch.tensor(mean)[:, None, None])
    return pixels, x / torch.tensor(std)[:, None, None]


@torch.no_grad()
def analyse(model, images: torch.Tensor):
    """Saliency (B, h, w), Otsu foreground (B, h, w) and regions (B, N, h*w), as in training."""
    from pretrain.regions import otsu_foreground, select_regions
    _, saliency = model.target_pass(images)
    return (saliency, otsu_foreground(saliency),
            select_regions(saliency, model.num_regions, model.min_area))


def upsample(grid: torch.Tensor, size: int) -> np.ndarray:
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


def figure(rows: int, cols: int):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    dpi = 100
    fig = plt.figure(figsize=(cols * PANEL / dpi, rows * (PANEL + TITLE) / dpi), dpi=dpi)
    axes = []
    for r in range(rows):
        for c in range(cols):
            top = 1 - (r * (PANEL + TITLE) + TITLE) / (rows * (PANEL + TITLE))
            axes.append(fig.add_axes([c / cols, top - PANEL / (rows * (PANEL + TITLE)), 1 / cols,
                                      PANEL / (rows * (PANEL + TITLE))]))
            axes[-1].set_axis_off()
    return fig, axes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('checkpoint', help='a DSeq-JEPA pretraining checkpoint, or its work dir')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    for path in args.images:
        if not osp.isfile(path):
            raise FileNotFoundError(f'image not found: {path}')
    os.makedirs(args.out, exist_ok=True)
    paths = checkpoints_of(args.checkpoint)

    overlays = []
    for ckpt_path in paths:
        model, cfg, step = load_model(ckpt_path)
        prep = cfg.model.get('data_preprocessor', {})
        size = model.target_encoder.grid_size[0] * model.target_encoder.patch_size
        batch = [prepare(p, size, prep.get('mean', (123.675, 116.28, 103.53)),
                         prep.get('std', (58.395, 57.12, 57.375))) for p in args.images]
        pixels = [b[0] for b in batch]
        saliency, foreground, regions = analyse(model, torch.stack([b[1] for b in batch]))
        grid = tuple(saliency.shape[1:])
        overlays.append((step, pixels, saliency, foreground, regions, grid))

    step, pixels, saliency, foreground, regions, grid = overlays[-1]
    for i, path in enumerate(args.images):
        fig, axes = figure(1, 4)
        axes[0].imshow(pixels[i])
        axes[1].imshow(upsample(saliency[i], pixels[i].shape[0]), cmap='inferno', vmin=0, vmax=1)
        axes[2].imshow(upsample(foreground[i], pixels[i].shape[0]), cmap='gray', vmin=0, vmax=1)
        draw_regions(axes[3], pixels[i], regions[i], grid)
        for ax, title in zip(axes, ['image', 'saliency', 'Otsu foreground',
                                    f'regions (iter {step})']):
            ax.set_title(title, fontsize=10)
        name = osp.splitext(osp.basename(path))[0]
        fig.savefig(osp.join(args.out, f'{name}.png'))
        fig.clf()
    if len(overlays) > 1:
        fig, axes = figure(len(overlays), len(args.images))
        for r, (step, pixels, _, _, regions, grid) in enumerate(overlays):
            for c in range(len(args.images)):
                ax = axes[r * len(args.images) + c]
                draw_regions(ax, pixels[c], regions[c], grid)
                ax.set_title(f'iter {step}: {osp.basename(args.images[c])}', fontsize=9)
        fig.savefig(osp.join(args.out, 'regions_grid.png'))
    print(f'wrote {len(args.images)} pictures' + (' and regions_grid.png' if len(overlays) > 1
                                                  else '') + f' to {args.out}')


if __name__ == '__main__':
    main()
