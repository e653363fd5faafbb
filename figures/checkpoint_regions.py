"""What DSeq-JEPA sees in images at a pretraining checkpoint: the target encoder's saliency, its
Otsu foreground and the ordered regions, computed as in training; and the loading of any JEPA
pretraining checkpoint and its inputs, which the patch clusters (``figures/patch_clusters.py``)
share."""
import glob
import os.path as osp
import re
from typing import List, NamedTuple, Tuple, Union

import numpy as np
import torch
from PIL import Image

from transfer.features import IMAGENET_MEAN, IMAGENET_STD


class Regions(NamedTuple):
    """What a checkpoint gives for a list of images: their pixels as the model saw them, saliency
    (B, h, w), Otsu foreground (B, h, w), regions (B, N, h*w), the token grid (h, w) and the
    checkpoint's iteration (its file name where it has none)."""
    pixels: List[np.ndarray]
    saliency: torch.Tensor
    foreground: torch.Tensor
    regions: torch.Tensor
    grid: Tuple[int, int]
    step: Union[int, str]


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
    """The pretraining model (I-JEPA, DSeq-JEPA) of a checkpoint, built from the config saved in it
    (read as data, :func:`engine.config_data.config_from_text`: nothing in it runs), with its
    iteration (the file name where it has none)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS
    from mmengine.runner import CheckpointLoader

    import pretrain  # noqa: F401  (registers the models)
    from backbones.safe_checkpoint import enable_safe_checkpoints
    from engine.config_data import check_registered, config_from_text
    from pretrain.jepa import JEPAModel
    enable_safe_checkpoints()  # local files load with weights_only=True and the allowlist
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not text or not isinstance(text, str):
        raise KeyError(f'{path} carries no config (meta.cfg): pass a checkpoint written by '
                       'pretraining with tools/train.py')
    cfg = Config(config_from_text(text, f'{path} (meta.cfg)'))
    if not isinstance(cfg.get('model'), dict):
        raise KeyError(f'{path}: its saved config (meta.cfg) holds no model as data')
    name = cfg.model.get('type')
    kind = MODELS.module_dict.get(name) if isinstance(name, str) else None  # never a dotted path
    if not (isinstance(kind, type) and issubclass(kind, JEPAModel)):
        raise ValueError(f'{path} is a {name!r} checkpoint, not a JEPA pretraining one (I-JEPA, '
                         'DSeq-JEPA)')
    check_registered(cfg.model, MODELS, f'{path} (meta.cfg): model')
    model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'])
    step = meta.get('iter', osp.basename(path))
    return model.eval(), cfg, step


def prepare(path: str, size: int, mean, std) -> Tuple[np.ndarray, torch.Tensor]:
    """The image resized (short side) and centre-cropped to size x size, and its model input."""
    with Image.open(path) as img:
        img = img.convert('RGB')
        scale = size / min(img.size)
        img = img.resize((max(size, round(img.width * scale)),
                          max(size, round(img.height * scale))), Image.BICUBIC)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        pixels = np.array(img.crop((left, top, left + size, top + size)))
    x = (torch.from_numpy(pixels).permute(2, 0, 1).float() - torch.tensor(mean)[:, None, None])
    return pixels, x / torch.tensor(std)[:, None, None]


@torch.no_grad()
def analyse(model, images: torch.Tensor):
    """Saliency (B, h, w), Otsu foreground (B, h, w) and regions (B, N, h*w), as in training."""
    from pretrain.dseq import encoder_saliency
    from pretrain.regions import otsu_foreground, select_regions
    _, saliency = encoder_saliency(model.target_encoder, images, model.saliency_block)
    return (saliency, otsu_foreground(saliency),
            select_regions(saliency, model.num_regions, model.min_area))


def model_inputs(model, cfg, images: List[str]) -> Tuple[List[np.ndarray], torch.Tensor]:
    """The images as the checkpoint's model sees them: their pixels, cropped to its input size, and
    the batch normalised by its data preprocessor's mean and std."""
    prep = cfg.model.get('data_preprocessor', {})
    size = model.target_encoder.grid_size[0] * model.target_encoder.patch_size
    batch = [prepare(p, size, prep.get('mean', IMAGENET_MEAN), prep.get('std', IMAGENET_STD))
             for p in images]
    return [b[0] for b in batch], torch.stack([b[1] for b in batch])


def regions_at(checkpoint: str, images: List[str]) -> Regions:
    """The saliency, foreground and regions of a checkpoint's model for the images."""
    model, cfg, step = load_model(checkpoint)
    if cfg.model.get('type') != 'DSeqJEPA':
        raise ValueError(f'{checkpoint} is a {cfg.model.get("type")} checkpoint; regions need '
                         'DSeq-JEPA (its CLS token gives the saliency)')
    pixels, batch = model_inputs(model, cfg, images)
    saliency, foreground, regions = analyse(model, batch)
    return Regions(pixels, saliency, foreground, regions, tuple(saliency.shape[1:]), step)
