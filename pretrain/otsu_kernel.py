"""Otsu's 256-bin scan (:func:`pretrain.regions.otsu_threshold`) as one Triton kernel.

OpenCV scans the bins one after another in float64 and exact ties between thresholds are decided
by the rounding of that scan, so the scan cannot be a parallel one. In torch ops it takes three
kernel launches per bin; this kernel runs the same scan for 32 images at a time, one per lane of a
warp, in one launch.

Each operation of OpenCV's loop is one operation here, in the same order, rounded on its own:
the kernel is compiled with ``enable_fp_fusion=False`` (:data:`COMPILE_OPTIONS`), without which
Triton contracts a multiply followed by an add into one fused multiply-add, rounded once, and a
tie can go the other way.
"""
import torch

try:
    import triton
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction
except ImportError:  # torch builds without a GPU backend come without Triton
    triton = None

__all__ = ['available', 'otsu_scan', 'COMPILE_OPTIONS', 'ROWS', 'FLT_EPSILON']

COMPILE_OPTIONS = {'enable_fp_fusion': False}
ROWS = 32  # images per program: one warp, a lane each
FLT_EPSILON = 1.1920928955078125e-07  # OpenCV's guard on the class weights


def available() -> bool:
    """Whether Triton is installed, so that :func:`otsu_scan` can run on a GPU."""
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


def otsu_scan(hist: torch.Tensor, count: int) -> torch.Tensor:
    """Otsu thresholds (B,) int64 of (256, B) float64 histograms of ``count`` levels each (columns
    of unit stride, rows of any stride), as OpenCV computes them."""
    if triton is None:
        raise RuntimeError('pretrain.otsu_kernel.otsu_scan needs Triton (pip install triton)')
    bins, batch = hist.shape
    if hist.dtype != torch.float64 or hist.stride(1) != 1:
        raise ValueError(f'otsu_scan takes float64 histograms with columns of unit stride, got '
                         f'{hist.dtype} with strides {hist.stride()}')
    if not hist.is_cuda and not isinstance(otsu_scan_kernel, InterpretedFunction):
        raise ValueError('otsu_scan runs on a GPU, or on the CPU in Triton\'s interpreter '
                         '(TRITON_INTERPRET=1 set before Triton is imported): these histograms '
                         f'are on the {hist.device.type}')
    threshold = torch.empty(batch, dtype=torch.int64, device=hist.device)
    otsu_scan_kernel[(triton.cdiv(batch, ROWS),)](
        hist, threshold, batch, hist.stride(0), count, BINS=bins, ROWS=ROWS,
        EPSILON=FLT_EPSILON, num_warps=1, **COMPILE_OPTIONS)
    return threshold
