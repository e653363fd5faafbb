"""Region selection's two loops as Triton kernels (:mod:`pretrain.regions` on a GPU).

In torch ops, Otsu's 256-bin scan takes three kernel launches per bin and the components' rounds
about a dozen each; these kernels run each loop to its end in one launch.

Otsu's scan (:func:`otsu_scan`): OpenCV scans the bins one after another in float64 and exact ties
between thresholds are decided by the rounding of that scan, so the scan cannot be a parallel one.
The kernel runs it for 32 images at a time, one per lane of a warp, each operation of OpenCV's loop
one operation here, in the same order, rounded on its own: it is compiled with
``enable_fp_fusion=False`` (:data:`COMPILE_OPTIONS`), without which Triton contracts a multiply
followed by an add into one fused multiply-add, rounded once, and a tie can go the other way.

Connected components (:func:`component_roots`): one program per map holds the map's labels in
registers and repeats a 3x3 minimum and a pointer jump until nothing changes, so the number of
rounds is each map's own and nothing is read back on the host. Integer operations only: the result
does not depend on the order of anything.
"""
import contextlib

import torch

try:
    import triton
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction
except ImportError:  # torch builds without a GPU backend come without Triton
    triton = None

__all__ = ['available', 'otsu_scan', 'component_roots', 'components_launch', 'COMPILE_OPTIONS',
           'ROWS', 'FLT_EPSILON', 'MAX_PATCHES']

COMPILE_OPTIONS = {'enable_fp_fusion': False}
ROWS = 32  # images per program of Otsu's scan: one warp, a lane each
FLT_EPSILON = 1.1920928955078125e-07  # OpenCV's guard on the class weights
#: the largest grid of the components kernel: its labels (a block of 16384 int32) fit in the shared
#: memory of any GPU since Volta; a ViT's grid is far smaller (a 56x56 grid is 3136 patches)
MAX_PATCHES = 16383


def available() -> bool:
    """Whether Triton is installed, so that the kernels can run on a GPU."""
    return triton is not None


if triton is not None:
    @triton.jit
    def otsu_scan_kernel(hist_ptr, threshold_ptr, batch, stride, count,
                         BINS: tl.constexpr, ROWS: tl.constexpr, EPSILON: tl.constexpr):
        """OpenCV's ``getThreshVal_Otsu_8u`` loop for images ``ROWS * pid ...``: bin ``i`` of image
        ``r`` is at ``hist_ptr + i * stride + r``; thresholds go to ``threshold_ptr + r``."""
        rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        live = rows < batch
        column = hist_ptr + rows
        scale = 1.0 / count.to(tl.float64)
        mu = tl.zeros([ROWS], tl.float64)
        for i in range(BINS):  # a sum of integers: exact in any order
            mu += i * tl.load(column + i * stride, mask=live, other=0.0)
        mu = mu * scale
        low = tl.full([ROWS], EPSILON, tl.float64)
        q1 = tl.zeros([ROWS], tl.float64)
        mu1 = tl.zeros([ROWS], tl.float64)
        top = tl.zeros([ROWS], tl.float64)  # the largest between-class variance so far
        threshold = tl.zeros([ROWS], tl.int64)
        for i in range(BINS):
            p = tl.load(column + i * stride, mask=live, other=0.0) * scale
            mu1 = mu1 * q1
            q1 = q1 + p
            q2 = 1.0 - q1
            valid = (tl.minimum(q1, q2) >= low) & (tl.maximum(q1, q2) <= 1.0 - low)
            # OpenCV skips the rest of the bin where it is not valid; the divisors there are 1
            # only so that no lane divides by zero
            mu1 = tl.where(valid, (mu1 + i * p) / tl.where(valid, q1, 1.0), mu1)
            mu2 = (mu - q1 * mu1) / tl.where(valid, q2, 1.0)
            sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
            better = valid & (sigma > top)  # strict: the first bin of the largest variance
            top = tl.where(better, sigma, top)
            threshold = tl.where(better, i, threshold)
        tl.store(threshold_ptr + rows, threshold, mask=live)

    @triton.jit
    def component_roots_kernel(foreground_ptr, roots_ptr, height, width, BLOCK: tl.constexpr):
        """Map ``pid``'s (height * width) foreground bytes -> each patch's component root."""
        n = height * width
        index = tl.arange(0, BLOCK)
        inside = index < n
        foreground = tl.load(foreground_ptr + tl.program_id(0) * n + index, mask=inside, other=0)
        # a label is a patch of the same component, never after the patch itself; background and
        # the padding up to BLOCK hold n, a patch of background, so that every label is an index
        labels = tl.where(foreground != 0, index, n)
        column = index % width
        left = tl.where(column > 0, index - 1, index)
        right = tl.where((column < width - 1) & inside, index + 1, index)
        up = tl.where(index >= width, index - width, index)
        down = tl.where(index < n - width, index + width, index)
        changed = True
        while changed:
            # the smallest label of the 3x3 neighbourhood, a row pass then a column pass
            row = tl.minimum(labels, tl.minimum(tl.gather(labels, left, 0),
                                                tl.gather(labels, right, 0)))
            smallest = tl.minimum(row, tl.minimum(tl.gather(row, up, 0), tl.gather(row, down, 0)))
            smallest = tl.where(foreground != 0, smallest, n)
            smallest = tl.gather(smallest, smallest, 0)  # jump to the label's own label
            changed = tl.max((smallest != labels).to(tl.int32), 0) > 0
            labels = smallest
        tl.store(roots_ptr + tl.program_id(0) * n + index, labels.to(tl.int64), mask=inside)


def _check_device(tensor: torch.Tensor, kernel, name: str) -> None:
    if not tensor.is_cuda and not isinstance(kernel, InterpretedFunction):
        raise ValueError(f'{name} runs on a GPU, or on the CPU in Triton\'s interpreter '
                         '(TRITON_INTERPRET=1 set before Triton is imported): this input is on '
                         f'the {tensor.device.type}')


def _require_triton(name: str) -> None:
    if triton is None:
        raise RuntimeError(f'pretrain.region_kernels.{name} needs Triton (pip install triton)')


def _on_device_of(tensor: torch.Tensor) -> contextlib.AbstractContextManager:
    """Triton launches on the current CUDA device: make it the tensor's."""
    return torch.cuda.device(tensor.device) if tensor.is_cuda else contextlib.nullcontext()


def otsu_scan(hist: torch.Tensor, count: int) -> torch.Tensor:
    """Otsu thresholds (B,) int64 of (256, B) float64 histograms of ``count`` levels each (columns
    of unit stride, rows of any stride), as OpenCV computes them."""
    _require_triton('otsu_scan')
    bins, batch = hist.shape
    if hist.dtype != torch.float64 or hist.stride(1) != 1:
        raise ValueError(f'otsu_scan takes float64 histograms with columns of unit stride, got '
                         f'{hist.dtype} with strides {hist.stride()}')
    _check_device(hist, otsu_scan_kernel, 'otsu_scan')
    threshold = torch.empty(batch, dtype=torch.int64, device=hist.device)
    with _on_device_of(hist):
        otsu_scan_kernel[(triton.cdiv(batch, ROWS),)](
            hist, threshold, batch, hist.stride(0), count, BINS=bins, ROWS=ROWS,
            EPSILON=FLT_EPSILON, num_warps=1, **COMPILE_OPTIONS)
    return threshold


def component_roots(foreground: torch.Tensor) -> torch.Tensor:
    """8-connected components of (B, h, w) bool maps, as :func:`pretrain.regions.label_components`
    returns them: (B, h*w) int64, each foreground patch the raster index of its component's first
    patch, background ``h*w``. Grids of up to :data:`MAX_PATCHES` patches."""
    _require_triton('component_roots')
    b, h, w = foreground.shape
    if foreground.dtype != torch.bool:
        raise ValueError(f'component_roots takes bool maps, got {foreground.dtype}')
    if h * w > MAX_PATCHES:
        raise ValueError(f'component_roots takes grids of up to {MAX_PATCHES} patches, got {h}x{w} '
                         '(label_components(..., fused=False) has no limit)')
    _check_device(foreground, component_roots_kernel, 'component_roots')
    roots = torch.empty(b, h * w, dtype=torch.int64, device=foreground.device)
    if b:
        with _on_device_of(foreground):
            component_roots_kernel[(b,)](foreground.contiguous().view(torch.uint8), roots, h, w,
                                         **components_launch(h * w))
    return roots


def components_launch(patches: int) -> dict:
    """The components kernel's block (the patches and the background's label, in a power of two)
    and warps (a warp per 256 labels, up to 8) for a grid of ``patches``."""
    block = triton.next_power_of_2(patches + 1)
    return {'BLOCK': block, 'num_warps': max(1, min(block // 256, 8))}
