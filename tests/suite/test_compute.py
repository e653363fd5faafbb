"""suite/compute.py: encoder parameters and GFLOPs against closed forms and timm, pretraining cost
from fabricated mmengine logs, the compute table, and the transfer configs' input sizes; plus a
tiny run of the significance benchmark (benchmarks/significance.py)."""
import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from backbones import JEPAViT
from tests.helpers import ROOT
from benchmarks.significance import benchmark_significance
from suite.compute import compute_table, encoder_cost, pretraining_cost

VIT_B = dict(type='JEPAViT', arch='b', img_size=224, patch_size=16, window_size=0)


def vit_macs(grid: int, dim: int, depth: int, patch: int, prefix: int, window: int = 0,
             windowed_blocks: int = 0) -> int:
    """Multiply-adds of a ViT by hand: the patch embedding, then per block 12 N D^2 for the
    projections and the MLP (ratio 4) and 2 N^2 D for attention's two products; a windowed block
    (no prefix) attends within each window of the grid zero-padded to whole windows."""
    n = grid * grid + prefix
    padded = math.ceil(grid / window) * window if window else 0
    windowed = 2 * (padded // window) ** 2 * window ** 4 * dim if window else 0
    blocks = [12 * n * dim ** 2 + 2 * n * n * dim] * (depth - windowed_blocks) + \
        [12 * n * dim ** 2 + windowed] * windowed_blocks
    return grid * grid * 3 * patch ** 2 * dim + sum(blocks)


def vit_params(dim: int, depth: int, patch: int, prefix: int) -> int:
    """Parameters of a ViT by hand: patch embedding, per block two LayerNorms, qkv, proj, the MLP,
    the final LayerNorm and the CLS token (the sin-cos positions are a buffer)."""
    block = 4 * dim + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + (8 * dim * dim + 5 * dim)
    return 3 * patch ** 2 * dim + dim + depth * block + 2 * dim + prefix * dim


def real_gflops(model: torch.nn.Module, size) -> float:
    """GMACs of a real CPU forward pass, counted the way suite/compute.py counts."""
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model.eval().forward_features(torch.zeros(1, 3, *size))
    return counter.get_total_flops() / 2 / 1e9


@pytest.mark.parametrize('cls', [False, True])
def test_vit_b16_at_224_against_closed_forms(cls):
    params, gflops = encoder_cost(dict(VIT_B, use_cls_token=cls), (224, 224))
    assert gflops * 1e9 == pytest.approx(vit_macs(14, 768, 12, 16, int(cls)), rel=1e-12)
    assert params == vit_params(768, 12, 16, int(cls))
    assert round(gflops, 2) == (17.56 if cls else 17.47)


def test_vit_b16_with_cls_counts_as_timm():
    import timm
    reference = real_gflops(timm.create_model('vit_base_patch16_224', num_classes=0), (224, 224))
    assert encoder_cost(dict(VIT_B, use_cls_token=True), (224, 224))[1] == \
        pytest.approx(reference, rel=1e-12)


def test_windowed_backbone_counts_as_a_real_forward_and_by_hand():
    # a 10x10 grid in windows of 4 (padded to 12x12) in block 0, global attention in block 1
    cfg = dict(type='JEPAViT', embed_dim=96, depth=2, num_heads=3, img_size=160, patch_size=16,
               window_size=4, out_indices=(1,), init_cfg=dict(type='Pretrained', checkpoint='x'))
    gflops = encoder_cost(cfg, (160, 160))[1]
    assert gflops * 1e9 == pytest.approx(vit_macs(10, 96, 2, 16, 0, window=4, windowed_blocks=1),
                                         rel=1e-12)
    built = {k: v for k, v in cfg.items() if k not in ('type', 'init_cfg')}
    for cls in (False, True):  # the real build: CLS attending to every window, on the CPU
        model = JEPAViT(**built, use_cls_token=cls)
        assert encoder_cost(dict(cfg, use_cls_token=cls), (160, 160))[1] == \
            pytest.approx(real_gflops(model, (160, 160)), rel=1e-12)


# ---------------------------------------------------------------- pretraining cost

ENV_INFO = """{stamp} - mmengine - INFO -
------------------------------------------------------------
System environment:
    sys.platform: linux
    Python: 3.11.7
    CUDA available: {cuda}
{gpus}    numpy_random_seed: 0
    PyTorch: 2.5.1

Runtime environment:
    cudnn_benchmark: False
    Distributed launcher: {launcher}
    Distributed training: {distributed}
    GPU number: {world}
------------------------------------------------------------

"""


def write_run(work_dir, stamp: str, speeds, times, world: int = 8, gpu: str = 'NVIDIA H200',
              epochs: int = 300, log: bool = True) -> None:
    """A run folder as mmengine writes it: the saved config, scalars.json (a row per logged
    iteration) and the text log with its env info, then a line per logged time."""
    from datetime import datetime
    run = work_dir / stamp
    (run / 'vis_data').mkdir(parents=True)
    (run / 'vis_data' / 'config.py').write_text(
        f"train_cfg = dict(type='PretrainLoop', max_epochs={epochs})\n"
        "train_dataloader = dict(batch_size=256)\n")
    rows = [f'{{"loss": 0.5, "time": 0.1, "images_per_s": {s}, "iter": {50 * i}, "step": {50 * i}}}'
            for i, s in enumerate(speeds, 1)]
    rows.append('{"train/knn_top1": 12.0, "iter": 500, "step": 500}')  # no throughput in it
    (run / 'vis_data' / 'scalars.json').write_text('\n'.join(rows) + '\n')
    if not log:
        return
    stamps = [datetime.strptime(t, '%Y%m%d_%H%M%S').strftime('%Y/%m/%d %H:%M:%S') for t in times]
    gpus = f'    GPU {",".join(map(str, range(world)))}: {gpu}\n' if gpu != 'CPU' else ''
    text = ENV_INFO.format(stamp=stamps[0], cuda=gpu != 'CPU', gpus=gpus, world=world,
                           launcher='pytorch' if world > 1 else 'none', distributed=world > 1)
    text += ''.join(f'{s} - mmengine - INFO - Iter(train) [  50/1000]  time: 0.1000\n'
                    for s in stamps[1:])
    (run / f'{stamp}.log').write_text(text)


@pytest.fixture
def pretrained(tmp_path) -> str:
    """A checkpoint of a fabricated job on 8 GPUs: 2.5 hours, killed, resumed for 0.5 hours."""
    work_dir = tmp_path / 'pretrain'
    write_run(work_dir, '20250101_000000', [100, 300, 200], ['20250101_000000', '20250101_010000',
                                                               '20250101_023000'])
    write_run(work_dir, '20250102_000000', [400, 500], ['20250102_000000', '20250102_003000'])
    (work_dir / 'iter_5000.pth').write_bytes(b'')
    return str(work_dir / 'iter_5000.pth')


def test_pretraining_cost_of_a_resumed_job(pretrained):
    assert pretraining_cost(pretrained) == dict(images_per_s=300, epochs=300, device_hours=24.0,
                                                device='NVIDIA H200')


def test_an_exported_checkpoint_costs_what_its_pretraining_did(pretrained, tmp_path):
    """The runner's export stage (a release layout of the pretraining's last checkpoint) keeps no
    logs: its record names the checkpoint it converted, whose job's cost it is."""
    import json
    from suite.results import DONE
    export = tmp_path / 'export_dseq'
    export.mkdir()
    (export / 'dseq_dseq_layout.pth.tar').write_bytes(b'')
    (export / DONE).write_text(json.dumps(dict(layout='dseq', source=pretrained)))
    cost = pretraining_cost(str(export / 'dseq_dseq_layout.pth.tar'))
    assert cost is not None and cost == pretraining_cost(pretrained)


def test_pretraining_cost_without_logs(tmp_path):
    assert pretraining_cost(str(tmp_path / 'ijepa_release.pth')) is None  # no mmengine run here
    write_run(tmp_path / 'cpu', '20250101_000000', [10, 30], ['20250101_000000', '20250101_000010'],
              world=2, gpu='CPU', epochs=10)  # two gloo processes for 10 seconds
    cost = pretraining_cost(str(tmp_path / 'cpu' / 'epoch_10.pth'))
    assert cost.pop('device_hours') == pytest.approx(20 / 3600, rel=1e-12)
    assert cost == dict(images_per_s=20, epochs=10, device='CPU')
    write_run(tmp_path / 'nolog', '20250101_000000', [10], [], log=False)
    assert pretraining_cost(str(tmp_path / 'nolog' / 'x.pth')) == \
        dict(images_per_s=10, epochs=300, device_hours=None, device=None)


# ---------------------------------------------------------------- the table

TINY = dict(type='JEPAViT', embed_dim=96, depth=2, num_heads=3, img_size=192, patch_size=16)


def transfer_config(method: str, input_size, checkpoint, **backbone) -> dict:
    """The parts of a saved transfer config the compute table reads."""
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint, encoder='target')
    return dict(pretrain_method=method,
                model=dict(backbone=dict(TINY, init_cfg=init_cfg, **backbone)),
                report=dict(task='t', metrics={'m': ('m', 1)}, input_size=list(input_size)))


def test_compute_table(pretrained, tmp_path):
    linear = transfer_config('ijepa', (192, 192), pretrained)
    release = str(tmp_path / 'release.pth')  # in no mmengine work dir
    runs = [('I-JEPA', 'ViT-T/16', 'COCO', transfer_config('ijepa', (336, 336), pretrained,
                                                          window_size=4, out_indices=(1,))),
            *[('I-JEPA', 'ViT-T/16', 'linear', linear)] * 3,  # seeds: one row
            ('random init', 'ViT-T/16', 'linear', transfer_config('random', (192, 192), None)),
            ('DSeq-JEPA', 'ViT-T/16', 'linear',
             transfer_config('dseq', (192, 192), release, use_cls_token=True))]
    header, rows = compute_table(runs)
    assert header == ['size', 'method', 'params (M)', 'GFLOPs @336x336', 'GFLOPs @192x192',
                      'pretraining epochs', 'images/s', 'device-hours', 'device']
    params = vit_params(96, 2, 16, 0) / 1e6
    at_336 = vit_macs(21, 96, 2, 16, 0, window=4, windowed_blocks=1) / 1e9  # windows padded
    at_192 = [vit_macs(12, 96, 2, 16, prefix) / 1e9 for prefix in (0, 1)]
    assert rows == [
        ['ViT-T/16', 'I-JEPA', f'{params:.3g}', f'{at_336:.3g}', f'{at_192[0]:.3g}', '300', '300',
         '24', 'NVIDIA H200'],
        ['ViT-T/16', 'random init', f'{params:.3g}', 'missing', f'{at_192[0]:.3g}', '-', '-', '-',
         '-'],
        ['ViT-T/16', 'DSeq-JEPA', f'{(params * 1e6 + 96) / 1e6:.3g}', 'missing',
         f'{at_192[1]:.3g}', 'missing', 'missing', 'missing', 'missing']]


# ---------------------------------------------------------------- the configs


def expected_input_size(cfg: Config):
    """The encoder's test input by the config's own pipeline: the sliding window's crop, else the
    test pipeline's centre crop or resize bound (padded up to the batch's size divisor: a patch-14
    detector pads 1024 to 1036), else the CLEVR images' side."""
    slide = cfg.model.get('test_cfg', {}).get('crop_size')
    if slide:
        return tuple(slide)
    dataset = cfg.test_dataloader.dataset
    for step in dataset.get('pipeline', []):
        if step.type == 'CenterCrop':
            return (step.crop_size,) * 2
        if step.type == 'Resize':
            divisor = cfg.model.get('data_preprocessor', {}).get('pad_size_divisor', 1)
            return (-(-max(step.scale) // divisor) * divisor,) * 2
    return (dataset.img_size,) * 2


TRANSFER_CONFIGS = sorted(p for task in ('maskrcnn', 'upernet', 'seglinear', 'depthlinear', 'clevr',
                                        'linear', 'knn')
                          for p in glob.glob(osp.join(ROOT, 'configs', task, '*.py')))


@pytest.mark.parametrize('path', TRANSFER_CONFIGS, ids=osp.basename)
def test_every_transfer_config_reports_its_input_size(path):
    cfg = Config.fromfile(path, import_custom_modules=False)
    assert tuple(cfg.report.input_size) == expected_input_size(cfg)


# ---------------------------------------------------------------- the benchmark


def test_benchmark_significance_runs_on_tiny_sizes():
    out = benchmark_significance(num_images=40, resamples=5, num_categories=5)
    keys = list(out)  # the bootstrap's own lines (suite.significance.as_lines) in the middle
    assert keys[:7] == ['images', 'categories', 'boxes', 'detections_per_method',
                        'matching_seconds', 'bootstrap_seconds', 'seconds_per_resample']
    assert keys[-3:] == ['cocoeval_ap_a', 'cocoeval_seconds', 'cocoeval_runs_over_bootstrap']
    assert out['ap_a'] == out['cocoeval_ap_a']  # the re-accumulated AP is COCOeval's
    assert float(out['delta']) == pytest.approx(float(out['ap_b']) - float(out['ap_a']), abs=2e-4)
    assert (out['images'], out['resamples']) == ('40', '5')
