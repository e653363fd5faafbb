"""select_regions equals the per-image OpenCV reference (Otsu + 8-connected components)."""
import math
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pretrain import region_kernels
from pretrain.regions import label_components, otsu_threshold, select_regions


def opencv_otsu(levels: np.ndarray) -> float:
    """OpenCV's Otsu threshold. Its Intel IPP fast path (on by default in x86 builds) computes in
    another precision and picks differently on exact ties, so the reference is OpenCV's own code."""
    with_ipp = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        return cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
    finally:
        cv2.ipp.setUseIPP(with_ipp)


def opencv_regions(sal: np.ndarray, num_regions: int = 5, min_area: float = 0.15) -> np.ndarray:
    """SPEC section 3, point 3, image by image with OpenCV."""
    h, w = sal.shape
    levels = np.floor(sal * np.float32(255)).clip(0, 255).astype(np.uint8)
    threshold = opencv_otsu(levels)
    count, labels = cv2.connectedComponents((levels > threshold).astype(np.uint8), connectivity=8)
    components = []
    for c in range(1, count):
        mask = labels == c
        if mask.sum() >= min_area * h * w:
            components.append((sal[mask].astype(np.float64).sum() / mask.sum(), mask))
    components.sort(key=lambda item: -item[0])  # stable: equal scores keep OpenCV's label order
    out = np.zeros((num_regions, h * w), dtype=bool)
    for r, (_, mask) in enumerate(components[:num_regions - 1]):
        out[r] = mask.ravel()
    out[-1] = ~out[:-1].any(0)
    return out


def normalise(a: torch.Tensor) -> torch.Tensor:
    """The saliency normalisation of SPEC section 3: (A - min) / (max - min + 1e-6) per map."""
    flat = a.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo + 1e-6)).view_as(a)


def smooth_maps(count: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, 1, size, size, generator=g)
    blur = torch.tensor([1., 4., 6., 4., 1.])
    kernel = (blur[:, None] * blur[None, :] / 256).view(1, 1, 5, 5)
    for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
        noise = F.conv2d(F.pad(noise, (2, 2, 2, 2), mode='replicate'), kernel)
    return normalise(noise[:, 0])


def assert_matches_opencv(maps: torch.Tensor, **kwargs) -> None:
    ours = select_regions(maps, **kwargs).numpy()
    for i, sal in enumerate(maps.numpy()):
        np.testing.assert_array_equal(ours[i], opencv_regions(sal, **kwargs), err_msg=f'map {i}')


@pytest.mark.parametrize('size,count', [(14, 1500), (16, 600), (32, 250)])
def test_random_smooth_maps(size, count):
    assert_matches_opencv(smooth_maps(count, size, seed=size))


@pytest.mark.parametrize('size', [14, 32])
def test_random_noise_maps_with_many_small_components(size):
    g = torch.Generator().manual_seed(1)
    assert_matches_opencv(normalise(torch.rand(300, size, size, generator=g)))
    assert_matches_opencv(normalise(torch.rand(300, size, size, generator=g)), min_area=0.0)


def test_flat_maps_have_no_region():
    maps = torch.stack([torch.zeros(14, 14), normalise(torch.full((1, 14, 14), 3.0))[0],
                        torch.full((14, 14), 0.5)])
    assert_matches_opencv(maps)
    regions = select_regions(maps)
    # normalised flat maps are all zero: nothing is above Otsu's threshold (0)
    assert not regions[:2, :4].any() and regions[:2, 4].all()
    # a flat map at a non-zero level is all above it: one region covering the grid
    assert regions[2, 0].all()


def test_few_levels_ties_at_the_threshold():
    g = torch.Generator().manual_seed(2)
    levels = torch.randint(0, 4, (400, 14, 14), generator=g).float()
    coarse = F.interpolate(torch.randint(0, 3, (400, 1, 4, 4), generator=g).float(), size=(14, 14))
    assert_matches_opencv(normalise(levels))
    assert_matches_opencv(normalise(coarse[:, 0]))
    assert_matches_opencv(normalise(coarse[:, 0] * 85 / 255), min_area=0.0)


def test_tied_otsu_thresholds_follow_opencv():
    # 58 / 80 / 58 patches at levels 0 / 127 / 254: thresholds 0 and 127 tie exactly and OpenCV
    # keeps the first (its IPP path, computing in another precision, returns 127)
    levels = torch.tensor([0] * 58 + [127] * 80 + [254] * 58)[None]
    assert otsu_threshold(levels).item() == 0 == opencv_otsu(levels.numpy().astype(np.uint8))


def test_ties_in_score_keep_raster_order():
    sal = torch.zeros(2, 14, 14)
    sal[:, 1:7, 1:7] = 0.8  # two blobs of the same size and value...
    sal[:, 8:14, 7:13] = 0.8
    sal[1, 8:14, 7:13] = 0.9  # ...except in the second map, where the lower one wins
    regions = select_regions(sal)
    assert_matches_opencv(sal)
    top = regions[:, 0].view(2, 14, 14)
    assert top[0, 1, 1] and top[1, 8, 7]


def test_regions_are_disjoint_and_cover_the_grid():
    regions = select_regions(smooth_maps(200, 16, seed=3), num_regions=7, min_area=0.05)
    assert regions.shape == (200, 7, 256)
    assert torch.equal(regions.sum(1), torch.ones(200, 256, dtype=torch.long))


def serpentine(size: int) -> np.ndarray:
    """One 1-patch-wide path through the whole grid: rows joined at alternating ends."""
    m = np.zeros((size, size), dtype=np.uint8)
    m[::2] = 1
    m[1::4, -1] = 1
    m[3::4, 0] = 1
    return m


def spiral(size: int) -> np.ndarray:
    """A 1-patch-wide square spiral walled off from itself, its first patch deep inside."""
    m = np.zeros((size, size), dtype=np.uint8)
    top, left, bottom, right = 0, 0, size - 1, size - 1
    while top <= bottom and left <= right:
        m[top, left:right + 1] = 1
        m[top:bottom + 1, right] = 1
        m[bottom, left:right + 1] = 1
        m[top + 2:bottom + 1, left] = 1
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
        if top <= bottom:
            m[top - 1, left] = 1
    return m


def component_masks(size: int, count: int, seed: int) -> np.ndarray:
    """Long thin components, which need the most rounds, and ``count`` random maps: (B, size, size)
    uint8."""
    g = np.random.default_rng(seed)
    masks = [serpentine(size), serpentine(size).T.copy(), spiral(size),
             spiral(size)[::-1, ::-1].copy(),
             np.eye(size, dtype=np.uint8) | np.eye(size, k=1, dtype=np.uint8)]
    masks += list((g.random((count, size, size)) > 0.45).astype(np.uint8))
    return np.stack(masks + [np.zeros((size, size), np.uint8), np.ones((size, size), np.uint8)])


def assert_components_equal_opencv(masks: np.ndarray, device: str, **kwargs) -> None:
    labels = label_components(torch.from_numpy(masks).bool().to(device), **kwargs).cpu()
    n = masks[0].size
    for i, m in enumerate(masks):
        count, cv_labels = cv2.connectedComponents(m, connectivity=8)
        flat = cv_labels.ravel()
        expected = np.full(n, n)
        for c in range(1, count):
            members = np.flatnonzero(flat == c)
            expected[members] = members[0]
        np.testing.assert_array_equal(labels[i].numpy(), expected, err_msg=f'mask {i}, {kwargs}')


@pytest.mark.parametrize('device,options', [('cpu', {'stop_early': True}),
                                            ('cpu', {'stop_early': False})] + (
    [('cuda', {'fused': False}), ('cuda', {})] if torch.cuda.is_available() else []))
def test_components_equal_opencv(device, options):
    """The fixed bound of rounds (the GPU's path without Triton) must suffice; on a GPU by default
    (no options) the Triton kernel."""
    for size in (14, 32):  # on a GPU: the labels in a warp's registers, then in shared memory
        assert_components_equal_opencv(component_masks(size, 40, seed=size), device, **options)


def python_otsu(levels: list) -> int:
    """OpenCV's Otsu loop for 8-bit images, transcribed in Python floats (IEEE doubles, in
    order)."""
    hist = [0] * 256
    for v in levels:
        hist[v] += 1
    scale = 1.0 / len(levels)
    mu = sum(i * h for i, h in enumerate(hist)) * scale
    q1 = mu1 = max_sigma = 0.0
    best = 0
    eps = float(np.finfo(np.float32).eps)
    for i in range(256):
        p_i = hist[i] * scale
        mu1 *= q1
        q1 += p_i
        q2 = 1.0 - q1
        if min(q1, q2) < eps or max(q1, q2) > 1.0 - eps:
            continue
        mu1 = (mu1 + i * p_i) / q1
        mu2 = (mu - q1 * mu1) / q2
        sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
        if sigma > max_sigma:
            max_sigma, best = sigma, i
    return best


def otsu_batches(shapes: list, seed: int) -> list:
    """Batches of maps of few levels (where ties occur), one per (rows, patches) in ``shapes``, and
    a batch whose every threshold has a mirrored twin."""
    g = torch.Generator().manual_seed(seed)

    def few_levels(n: int) -> torch.Tensor:
        choices = torch.randint(0, 256, (int(torch.randint(1, 5, (1,), generator=g)),), generator=g)
        return choices[torch.randint(0, len(choices), (n,), generator=g)]
    half = torch.randint(0, 128, (100, 98), generator=g)
    return ([torch.stack([few_levels(n) for _ in range(rows)]) for rows, n in shapes]
            + [torch.cat([half, 255 - half], 1)])


def assert_otsu_rounds_as_opencvs_loop(batches: list, device: str, fused: bool = None) -> None:
    for batch in batches:
        ours = otsu_threshold(batch.to(device), fused=fused).tolist()
        assert ours == [python_otsu(row) for row in batch.tolist()], (batch.shape, fused)


@pytest.mark.parametrize('device,fused', [('cpu', False)] + (
    [('cuda', False), ('cuda', None)] if torch.cuda.is_available() else []))
def test_otsu_rounds_as_opencvs_loop(device, fused):
    """Exact ties are decided by rounding: compare with the loop itself on maps of few levels, one
    by one (a batch of one) and batched, and on mirrored maps; on a GPU by default (``None``) with
    the Triton kernel."""
    g = torch.Generator().manual_seed(5)
    shapes = [(1, int(torch.randint(2, 1100, (1,), generator=g))) for _ in range(100)]
    assert_otsu_rounds_as_opencvs_loop(otsu_batches(shapes + [(300, 196)], seed=5), device, fused)


def test_the_otsu_kernel_rounds_as_opencvs_loop_in_tritons_interpreter():
    """The Triton kernel's operations, run one by one in float64 by Triton's interpreter on the CPU
    (programs of 32 maps: full, partial, one map of 2 patches...). The interpreter must be chosen
    before Triton is imported, hence the subprocess; the compiled kernel's rounding is the next
    test's."""
    pytest.importorskip('triton')
    shapes = [(32, 2), (7, 3), (45, 196), (32, 1023)]
    tie = '[torch.tensor([[0] * 58 + [127] * 80 + [254] * 58])]'
    code = ('from test_regions import *; assert_otsu_rounds_as_opencvs_loop('
            f"otsu_batches({shapes}, seed=7) + {tie}, 'cpu', fused=True)")
    proc = subprocess.run([sys.executable, '-W', 'error::RuntimeWarning', '-c', code],
                          cwd=osp.dirname(__file__), env=dict(os.environ, TRITON_INTERPRET='1'),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_components_kernel_equals_opencv_in_tritons_interpreter():
    """The components kernel run by Triton's interpreter on the CPU, on grids of 14x14 (a block of
    256 for 196 patches), 32x32 (a block of 2048 for 1024 patches), 7x9, 9x7 and grids one patch
    high or wide."""
    pytest.importorskip('triton')
    code = ('from test_regions import *\n'
            'for size, count, seed in [(14, 30, 1), (32, 10, 2)]:\n'
            "    masks = component_masks(size, count, seed)\n"
            "    assert_components_equal_opencv(masks, 'cpu', fused=True)\n"
            'masks = component_masks(9, 5, 3)\n'
            'for grids in [masks[:, 1:8], masks[:, :, 1:8], masks[:, :1], masks[:, :, :1]]:\n'
            "    assert_components_equal_opencv(grids, 'cpu', fused=True)")
    proc = subprocess.run([sys.executable, '-c', code], cwd=osp.dirname(__file__), text=True,
                          env=dict(os.environ, TRITON_INTERPRET='1'), capture_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_kernels_say_where_they_run():
    pytest.importorskip('triton')
    with pytest.raises(ValueError, match='TRITON_INTERPRET=1'):
        otsu_threshold(torch.zeros(2, 196, dtype=torch.long), fused=True)
    with pytest.raises(ValueError, match='TRITON_INTERPRET=1'):
        label_components(torch.zeros(2, 14, 14, dtype=torch.bool), fused=True)


def test_the_components_kernel_refuses_what_it_cannot_label():
    """Maps that are not bool (their bytes would be read as a foreground) and grids beyond its
    block; by default such grids take the torch rounds."""
    pytest.importorskip('triton')
    with pytest.raises(ValueError, match='bool maps, got torch.int64'):
        region_kernels.component_roots(torch.ones(2, 14, 14, dtype=torch.long))
    side = math.isqrt(region_kernels.MAX_PATCHES) + 1
    with pytest.raises(ValueError, match=f'up to {region_kernels.MAX_PATCHES} patches'):
        region_kernels.component_roots(torch.zeros(1, side, side, dtype=torch.bool))


def compile_for_sm90(kernel, signature: dict, constants: dict, **options) -> str:
    """PTX of ``kernel`` compiled for an H100/H200 (sm_90); no GPU needed."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, compile as compile_kernel
    source = ASTSource(kernel, dict(signature, **{k: 'constexpr' for k in constants}),
                       constexprs=constants)
    return compile_kernel(source, target=GPUTarget('cuda', 90, 32), options=options).asm['ptx']


def test_the_otsu_kernel_compiles_without_fused_multiply_adds():
    """Compiled for an H100/H200, every float64 operation of the kernel rounds on its own: no
    ``fma`` (Triton's default contracts multiply-adds), divisions rounded to nearest
    (``div.rn``)."""
    pytest.importorskip('triton')
    signature = {'hist_ptr': '*fp64', 'threshold_ptr': '*i64', 'batch': 'i32', 'stride': 'i32',
                 'count': 'i32'}
    constants = {'BINS': 256, 'ROWS': region_kernels.ROWS, 'EPSILON': region_kernels.FLT_EPSILON}
    ptx = compile_for_sm90(region_kernels.otsu_scan_kernel, signature, constants,
                           **region_kernels.COMPILE_OPTIONS)
    float64_ops = set(re.findall(r'\b([a-z]+)(\.[a-z.]*)?\.f64\b', ptx))
    assert {op for op, _ in float64_ops} >= {'mul', 'add', 'sub', 'div'}, float64_ops
    assert not any(op == 'fma' or (op in ('mul', 'add', 'sub', 'div') and rounding != '.rn')
                   for op, rounding in float64_ops), float64_ops


@pytest.mark.parametrize('patches', [196, 1024, region_kernels.MAX_PATCHES])
def test_the_components_kernel_compiles_for_an_h200(patches):
    """The kernel's gathers and its loop of a data-dependent length lower for sm_90, as launched
    for 14x14 and 32x32 grids and the largest grid it takes, and the int32 labels stay on the chip
    (warp shuffles or shared memory): the only stores to global memory are of the int64 roots."""
    pytest.importorskip('triton')
    signature = {'foreground_ptr': '*u8', 'roots_ptr': '*i64', 'height': 'i32', 'width': 'i32'}
    launch = region_kernels.components_launch(patches)
    ptx = compile_for_sm90(region_kernels.component_roots_kernel, signature,
                           {'BLOCK': launch.pop('BLOCK')}, **launch)
    assert '.entry component_roots_kernel' in ptx
    stores = re.findall(r'\bst\.global\S*\.([bsu]\d+)\s', ptx)  # each store's element type
    assert stores and set(stores) <= {'b64', 's64', 'u64'}, set(stores)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_select_regions_never_waits_for_the_host():
    maps = smooth_maps(64, 14, seed=6)
    expected = select_regions(maps)
    maps = maps.cuda()
    first = select_regions(maps)  # captures the CUDA graph of this shape, which waits once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')  # any device-to-host copy or sync raises
    try:
        ours = select_regions(maps.flip(0))
        again = select_regions(maps)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert torch.equal(first.cpu(), expected) and torch.equal(again.cpu(), expected)
    assert torch.equal(ours.cpu(), expected.flip(0))  # replays read the new input
