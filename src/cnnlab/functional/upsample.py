"""``interpolate``: resize an NCHW batch (nearest or bilinear), with PyTorch's pixel conventions.

Both modes are linear maps along each axis, so they are built from ops that already have
gradients: nearest picks rows and columns (indexing; the backward adds each output pixel's
gradient to the pixel it copied), bilinear multiplies by a small (out x in) weight matrix per axis,
``out = A_h @ x @ A_w^T`` (the backward is the transposed product).
"""

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._checks import interpolate_args


def _source_scale(in_size, out_size, scale_factor, dtype):
    """The step between source positions, in ``dtype`` as PyTorch computes it.

    ``1 / scale_factor`` when a scale factor reaches the kernel (given and not recomputed), else
    ``in_size / out_size``; the two differ by rounding, and the rounding decides the picked pixel.
    """
    if scale_factor is not None:
        return dtype.type(1.0 / float(scale_factor))
    return dtype.type(in_size) / dtype.type(out_size)


def _nearest_indices(in_size, out_size, scale_factor, exact):
    """Which input pixel each output pixel copies: ``floor(i * scale)`` in float32, clamped.

    ``nearest`` keeps PyTorch's legacy shortcuts: an unchanged size copies, twice the size
    repeats each pixel (``i // 2``), both regardless of the float32 rounding that follows
    otherwise. ``nearest-exact`` reads at pixel centres: ``floor((i + 0.5) * scale)``.
    """
    i = np.arange(out_size)
    if not exact and out_size == in_size:
        return i
    if not exact and out_size == 2 * in_size:
        return i // 2
    scale = _source_scale(in_size, out_size, scale_factor, np.dtype(np.float32))
    if exact:  # (i + 0.5) in float64 times the float32 scale, rounded to float32 before the floor
        pos = ((i + 0.5) * np.float64(scale)).astype(np.float32)
    else:
        pos = i.astype(np.float32) * scale
    return np.minimum(np.floor(pos).astype(np.int64), in_size - 1)


def _bilinear_matrix(in_size, out_size, scale_factor, align_corners, dtype):
    """(out_size, in_size) weights: output i mixes inputs floor(p), floor(p) + 1 by p's fraction.

    p is computed in the input's precision, as PyTorch does: i * (in - 1) / (out - 1) with
    ``align_corners``, else (i + 0.5) * scale - 0.5 clamped at 0 (pixel centres line up).
    An axis whose size does not change is copied, whatever the scale factor.
    """
    if out_size == in_size:
        return np.eye(in_size)
    i = np.arange(out_size)
    if align_corners:
        scale = (dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1
                 else dtype.type(0))
        pos = i.astype(dtype) * scale
    else:
        scale = _source_scale(in_size, out_size, scale_factor, dtype)
        # (i + 0.5) * scale - 0.5 in float64, then rounded to the input's precision
        pos = np.maximum((i + 0.5) * np.float64(scale) - 0.5, 0.0).astype(dtype)
    low = np.minimum(np.floor(pos).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = np.clip(pos - low.astype(dtype), 0, 1).astype(np.float64)
    rows = np.arange(out_size)
    a = np.zeros((out_size, in_size))
    # Each row's (low) and each row's (high) are one entry apiece, so plain indexed adds are exact;
    # at the last pixel high == low and the second add lands on the first one's entry, as it must.
    a[rows, low] += 1.0 - frac
    a[rows, high] += frac
    return a


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, H, W) images to ``size`` or by ``scale_factor``, as PyTorch's ``interpolate``.

    Args:
        input: (N, C, H, W), floating.
        size: output (H_out, W_out), or one int for both.
        scale_factor: multiplier for H and W (a number or a pair); H_out = floor(H * scale).
        mode: ``"nearest"`` (PyTorch's legacy nearest: source = floor(i * H / H_out)),
            ``"nearest-exact"`` (source = floor((i + 0.5) * H / H_out)) or ``"bilinear"``.
        align_corners: bilinear only. True: the corner pixels of input and output line up
            (source = i * (H - 1) / (H_out - 1)); False (default): pixel centres line up
            (source = (i + 0.5) / scale - 0.5).
        recompute_scale_factor: True computes the source positions from the output size instead
            of the given ``scale_factor``. Otherwise a given ``scale_factor`` sets the step,
            ``1 / scale_factor``, which can pick other pixels than ``H / H_out`` does.
        antialias: only False is supported.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Example:
        >>> interpolate(cnnlab.randn(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
        (1, 3, 8, 8)
    """
    input, out_size, factors = interpolate_args(input, size, scale_factor, mode, align_corners,
                                                recompute_scale_factor, antialias)
    in_size = input.shape[-2:]
    xp = backend.get_array_module(input._data)
    device = str(backend.device_of(input._data))
    if mode != "bilinear":
        rows, cols = (_nearest_indices(n, o, f, exact=mode == "nearest-exact")
                      for n, o, f in zip(in_size, out_size, factors))
        rows, cols = (backend.to_device(a, device) for a in (rows, cols))
        return input[:, :, rows[:, None], cols[None, :]]
    mats = (_bilinear_matrix(n, o, f, bool(align_corners), input.dtype)
            for n, o, f in zip(in_size, out_size, factors))
    a_h, a_w = (Tensor._wrap(xp.asarray(backend.to_device(m, device), dtype=input.dtype))
                for m in mats)
    return a_h @ (input @ a_w.transpose(0, 1))   # (oH, H) @ (N, C, H, W) @ (W, oW)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` under its older name (``torch.nn.functional.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)
