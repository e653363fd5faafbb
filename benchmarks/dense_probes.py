"""What a training iteration of a frozen dense probe costs against end-to-end dense transfer, side
by side in one run: the UperNet ViT-B/16 of the ADE20K recipe (SPEC section 4, the whole encoder
trained) against the ADE20K linear probe and the NYU-Depth v2 linear depth probe (lin. 1 and
lin. 4; section 4h, the encoder frozen), each the model of its config with random weights and its
own optimizer, timed over whole training iterations (data preprocessing, forward, backward,
optimizer step) on a random batch of the same images.

    python tools/benchmark_dense_probes.py [--size 256] [--batch 2] [--iters 2]

The recipe's input is 512x512 (``--size 512``: about 70 s an UperNet iteration on 2 busy CPU
cores); the default 256 keeps a run under 2 minutes there. Peak memory is measured on a GPU only
(fp32 on the CPU, the configs' bf16 autocast on a GPU). Another task's model joins the comparison
as a :class:`DenseModel` in :data:`DENSE_MODELS`, with the batch maker of its task.
"""
import os.path as osp
import time
from typing import Callable, Dict, List, NamedTuple

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope
from mmengine.utils import import_modules_from_strings

from benchmarks.devices import describe_device, sync

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def segmentation_batch(count: int, size: int, classes: int = 150) -> dict:
    """``count`` random uint8 images of ``size`` x ``size`` with random label maps, as mmseg's
    dataloader hands them to a segmentor's ``train_step``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
              for _ in range(count)]
    samples = [SegDataSample(gt_sem_seg=PixelData(
        data=torch.randint(0, classes, (1, size, size), generator=g))) for _ in range(count)]
    return dict(inputs=images, data_samples=samples)


def depth_batch(count: int, size: int) -> dict:
    """``count`` random uint8 images of ``size`` x ``size`` with random depth maps in metres (a
    tenth of them 0, invalid), as mmseg's dataloader hands them to a depth estimator's
    ``train_step``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
              for _ in range(count)]
    depths = [torch.rand(1, size, size, generator=g) * 9 + 0.5 for _ in range(count)]
    samples = [SegDataSample(gt_depth_map=PixelData(
        data=d * (torch.rand(d.shape, generator=g) > 0.1))) for d in depths]
    return dict(inputs=images, data_samples=samples)


class DenseModel(NamedTuple):
    """A model timed: its name, its config (from the repository root) and the batch maker of its
    task, ``(count, size) -> train_step's data``."""
    name: str
    config: str
    batch: Callable[[int, int], dict]


#: the models timed, the first the one the others are compared with
DENSE_MODELS: List[DenseModel] = [
    DenseModel('UperNet ViT-B/16, ADE20K (encoder trained)',
               'configs/upernet/upernet_ijepa-vitb16_160k_ade20k.py', segmentation_batch),
    DenseModel('linear probe ViT-B/16, ADE20K (encoder frozen)',
               'configs/seglinear/seglinear_ijepa-vitb16_40k_ade20k.py', segmentation_batch),
    DenseModel('linear depth probe lin. 1 ViT-B/16, NYU (encoder frozen)',
               'configs/depthlinear/depthlinear_ijepa-vitb16_38k_nyu.py', depth_batch),
    DenseModel('linear depth probe lin. 4 ViT-B/16, NYU (encoder frozen)',
               'configs/depthlinear/depthlinear4_ijepa-vitb16_38k_nyu.py', depth_batch),
]


def build_trainable(config: str, size: int, device: torch.device):
    """The config's model (random weights: the checkpoint loads only in ``init_weights``, never
    called here) for ``size`` x ``size`` inputs, in training mode on ``device``, and its optimizer
    wrapper as the config builds it (fp32 on the CPU, where autocast to bf16 is not the recipe)."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    import_modules_from_strings(**cfg.custom_imports)
    if 'size' in cfg.model.data_preprocessor:  # the padded training size follows the input's
        cfg.model.data_preprocessor.size = (size, size)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        torch.manual_seed(0)
        model = revert_sync_batchnorm(MODELS.build(cfg.model)).to(device).train()
        optim_cfg = cfg.optim_wrapper.copy()
        if device.type != 'cuda':
            optim_cfg.pop('dtype', None)
            optim_cfg.type = 'OptimWrapper'
        return model, build_optim_wrapper(model, optim_cfg)


def time_training(model: torch.nn.Module, optim_wrapper: OptimWrapper, data: dict, iters: int,
                  device: torch.device) -> Dict[str, float]:
    """Seconds per training iteration over ``iters`` after one untimed, and the peak memory (GiB)
    of the timed ones on a GPU (NaN elsewhere)."""
    model.train_step(data, optim_wrapper)
    sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(iters):
        model.train_step(data, optim_wrapper)
    sync(device)
    seconds = (time.perf_counter() - start) / iters
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == 'cuda' else float('nan')
    return dict(seconds=seconds, peak_gib=peak)


def benchmark_dense_probes(size: int, batch: int, iters: int,
                           models: List[DenseModel] = DENSE_MODELS) -> Dict[str, Dict[str, float]]:
    """Time each model's training iteration on a batch of ``batch`` random ``size`` x ``size``
    images, one model at a time; print each with its ratio to the first, and return them."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    results = {}
    for entry in models:
        model, optim_wrapper = build_trainable(entry.config, size, device)
        data = entry.batch(batch, size)
        results[entry.name] = time_training(model, optim_wrapper, data, iters, device)
        results[entry.name]['trainable_m'] = sum(
            p.numel() for p in model.parameters() if p.requires_grad) / 1e6
        del model, optim_wrapper
    print(f'dense transfer, one training iteration (forward, backward, optimizer step): batch '
          f'{batch} of {size}x{size}, random weights, {describe_device(device)}, mean of {iters}')
    first = results[models[0].name]
    for name, r in results.items():
        memory = f', peak {r["peak_gib"]:.2f} GiB' if device.type == 'cuda' else ''
        print(f'  {name}: {r["seconds"]:.3f} s/iter{memory}, {r["trainable_m"]:.2f}M trainable '
              f'parameters, x{r["seconds"] / first["seconds"]:.3f} the time of the first')
    return results
