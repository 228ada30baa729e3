"""``interpolate``: resize an NCHW batch (nearest or bilinear), with PyTorch's pixel conventions.

Both modes are linear maps along each axis, so they are built from ops that already have
gradients: nearest picks rows and columns (indexing; the backward adds each output pixel's
gradient to the pixel it copied), bilinear multiplies by a small (out x in) weight matrix per axis,
``out = A_h @ x @ A_w^T`` (the backward is the transposed product).
"""

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import floating, is_int, is_real, tensor_arg

MODES = ("nearest", "bilinear")


def _source_positions(in_size, out_size, scale, mode, align_corners):
    """Where output pixel i reads from in the input, as PyTorch computes it (float positions)."""
    i = np.arange(out_size, dtype=np.float64)
    if mode == "nearest":
        return np.minimum(np.floor(i * scale), in_size - 1).astype(np.int64)
    if align_corners:
        step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return i * step
    return np.maximum((i + 0.5) * scale - 0.5, 0.0)  # pixel centres line up; clamp at pixel 0


def _bilinear_matrix(in_size, out_size, scale, align_corners):
    """(out_size, in_size) weights: output i mixes inputs floor(p), floor(p) + 1 by p's fraction."""
    pos = _source_positions(in_size, out_size, scale, "bilinear", align_corners)
    low = np.minimum(np.floor(pos).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = pos - low
    rows = np.arange(out_size)
    a = np.zeros((out_size, in_size))
    # Each row's (low) and each row's (high) are one entry apiece, so plain indexed adds are exact;
    # at the last pixel high == low and the second add lands on the first one's entry, as it must.
    a[rows, low] += 1.0 - frac
    a[rows, high] += frac
    return a


def _pair_arg(fn, name, value, kind):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(kind(v) and v > 0 for v in items)
    if not ok:
        what = "positive int" if kind is is_int else "positive number"
        raise ValueError(f"{fn}: `{name}` must be a {what} or a pair of them. Received: "
                         f"{name}={value!r}")
    return items


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, H, W) images to ``size`` or by ``scale_factor``, as PyTorch's ``interpolate``.

    Args:
        input: (N, C, H, W), floating.
        size: output (H_out, W_out), or one int for both.
        scale_factor: multiplier for H and W (a number or a pair); H_out = floor(H * scale).
        mode: ``"nearest"`` (PyTorch's legacy nearest: source = floor(i * H / H_out)) or
            ``"bilinear"``.
        align_corners: bilinear only. True: the corner pixels of input and output line up
            (source = i * (H - 1) / (H_out - 1)); False (default): pixel centres line up
            (source = (i + 0.5) / scale - 0.5).
        recompute_scale_factor: True computes the source positions from the output size instead
            of the given ``scale_factor``.
        antialias: only False is supported.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Example:
        >>> interpolate(cnnlab.randn(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
        (1, 3, 8, 8)
    """
    fn = "interpolate"
    input = tensor_arg(fn, "input", input, ndim=4, shape_hint="(N, C, H, W)")
    floating(fn, "input", input)
    if mode not in MODES:
        raise ValueError(f"{fn}: `mode` must be one of {', '.join(map(repr, MODES))}. Received: "
                         f"mode={mode!r}")
    if align_corners is not None and mode != "bilinear":
        raise ValueError(f"{fn}: `align_corners` can only be set with mode='bilinear'. "
                         f"Received: align_corners={align_corners!r} with mode={mode!r}")
    if antialias:
        raise ValueError(f"{fn}: antialias=True is not supported. "
                         f"Received: antialias={antialias!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: exactly one of `size` and `scale_factor` must be given. "
                         f"Received: size={size!r}, scale_factor={scale_factor!r}")
    in_size = input.shape[-2:]
    if size is not None:
        out_size = _pair_arg(fn, "size", size, is_int)
        scales = [n / o for n, o in zip(in_size, out_size)]
    else:
        factors = _pair_arg(fn, "scale_factor", scale_factor, is_real)
        out_size = tuple(int(math.floor(n * float(f))) for n, f in zip(in_size, factors))
        if min(out_size) < 1:
            raise ValueError(f"{fn}: scale_factor={scale_factor!r} shrinks the input size "
                             f"{in_size} to "
                             f"{out_size}; expected at least 1x1")
        if recompute_scale_factor:
            scales = [n / o for n, o in zip(in_size, out_size)]
        else:
            scales = [1.0 / float(f) for f in factors]
    xp = backend.get_array_module(input._data)
    device = str(backend.device_of(input._data))
    if mode == "nearest":
        rows, cols = (_source_positions(n, o, s, mode, False)
                      for n, o, s in zip(in_size, out_size, scales))
        rows, cols = (backend.to_device(a, device) for a in (rows, cols))
        return input[:, :, rows[:, None], cols[None, :]]
    mats = (_bilinear_matrix(n, o, s, bool(align_corners))
            for n, o, s in zip(in_size, out_size, scales))
    a_h, a_w = (Tensor._wrap(xp.asarray(backend.to_device(m, device), dtype=input.dtype))
                for m in mats)
    return a_h @ (input @ a_w.transpose(0, 1))   # (oH, H) @ (N, C, H, W) @ (W, oW)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` under its older name (``torch.nn.functional.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)
