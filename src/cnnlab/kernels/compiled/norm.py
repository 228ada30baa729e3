"""Batch normalisation (compiled): statistics, normalisation and the optional ReLU in one call forward,
the two per-channel sums and the input gradient in one call backward.

The arrays are seen through one of two C-contiguous views, so every innermost loop is contiguous:

- rows (R, C): channels-last memory (R = N*H*W pixels) and (N, C) inputs; the loops run along the
  channels, the per-thread partial sums are (C,) vectors, and the work splits into row blocks. With
  fewer than 64 channels that divide 64, the rows are seen 64 values wide (``_rows.wide``);
- planes (N, C, P): NCHW memory (P = H*W, or L); per-channel sums run along a plane, one channel per
  task, and the element-wise passes take one (image, channel) plane per task.

Sums accumulate in float64 around a per-channel shift (the channel's first value), so the one-pass
variance E[(x - s)^2] - E[x - s]^2 keeps its digits in float32 as in float64. Every pass is an affine
map per channel: the forward writes out = x * scale + shift (then max(., 0)); the backward writes
dx = a * g' + b * x + d with g' the gradient masked by the ReLU, where training has
a = weight * inv_std, b = -a * inv_std * sum(g' xhat) / M, d = -b * mean - a * sum(g') / M, and
evaluation has b = d = 0 (the statistics are constants).
"""

import numpy as np
from numba import prange

from ..reference._layout import in_layout, is_channels_last
from ..reference.norm import update_running_stats
from . import buffers
from ._numba import kernel, num_threads
from ._rows import folded, wide

__all__ = ["batch_norm_forward", "batch_norm_backward"]

# LLVM may reorder sums (vectorised reductions) but must keep NaN and infinity semantics.
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@kernel(fastmath=_FAST)
def _sums_rows(x, shift, blocks):
    """x (R, C) -> (blocks, 2, C) float64 partial sums of (x - shift) and (x - shift)^2."""
    r, c = x.shape
    parts = np.zeros((blocks, 2, c))
    for b in prange(blocks):
        s, q = parts[b, 0], parts[b, 1]
        for row in range(r * b // blocks, r * (b + 1) // blocks):
            xr = x[row]
            for ch in range(c):
                v = xr[ch] - shift[ch]
                s[ch] += v
                q[ch] += v * v
    return parts


@kernel(fastmath=_FAST)
def _sums_planes(x, shift):
    """x (N, C, P) -> (2, C) float64 sums of (x - shift) and (x - shift)^2; one channel per task."""
    n, c, p = x.shape
    out = np.zeros((2, c))
    for ch in prange(c):
        s = 0.0
        q = 0.0
        for b in range(n):
            xp = x[b, ch]
            for i in range(p):
                v = xp[i] - shift[ch]
                s += v
                q += v * v
        out[0, ch] = s
        out[1, ch] = q
    return out


@kernel(fastmath=_FAST)
def _affine_rows(x, scale, shift, relu, out):
    """out = x * scale + shift per channel (then max(., 0) when ``relu``); x, out (R, C)."""
    r, c = x.shape
    for row in prange(r):
        xr, o = x[row], out[row]
        for ch in range(c):
            y = xr[ch] * scale[ch] + shift[ch]
            o[ch] = 0 if relu and y < 0 else y


@kernel(fastmath=_FAST)
def _affine_planes(x, scale, shift, relu, out):
    """As ``_affine_rows`` on (N, C, P) planes."""
    n, c, p = x.shape
    for task in prange(n * c):
        b, ch = task // c, task % c
        xp, o = x[b, ch], out[b, ch]
        a, d = scale[ch], shift[ch]
        for i in range(p):
            y = xp[i] * a + d
            o[i] = 0 if relu and y < 0 else y


@kernel(fastmath=_FAST)
def _grad_sums_rows(g, x, out, mean, relu, blocks):
    """(blocks, 2, C) partial sums of g' and g' * (x - mean); g' = 0 where out <= 0 when ``relu``."""
    r, c = x.shape
    parts = np.zeros((blocks, 2, c))
    for b in prange(blocks):
        s, q = parts[b, 0], parts[b, 1]
        for row in range(r * b // blocks, r * (b + 1) // blocks):
            gr, xr, orow = g[row], x[row], out[row]
            for ch in range(c):
                gv = 0 if relu and orow[ch] <= 0 else gr[ch]
                s[ch] += gv
                q[ch] += gv * (xr[ch] - mean[ch])
    return parts


@kernel(fastmath=_FAST)
def _grad_sums_planes(g, x, out, mean, relu):
    """As ``_grad_sums_rows`` on (N, C, P) planes -> (2, C); one channel per task."""
    n, c, p = x.shape
    sums = np.zeros((2, c))
    for ch in prange(c):
        s = 0.0
        q = 0.0
        m = mean[ch]
        for b in range(n):
            gp, xp, op = g[b, ch], x[b, ch], out[b, ch]
            for i in range(p):
                gv = 0 if relu and op[i] <= 0 else gp[i]
                s += gv
                q += gv * (xp[i] - m)
        sums[0, ch] = s
        sums[1, ch] = q
    return sums


@kernel(fastmath=_FAST)
def _grad_input_rows(g, x, out, a, bx, d, relu, gx):
    """gx = a * g' + bx * x + d per channel; all (R, C)."""
    r, c = x.shape
    for row in prange(r):
        gr, xr, orow, dst = g[row], x[row], out[row], gx[row]
        for ch in range(c):
            gv = 0 if relu and orow[ch] <= 0 else gr[ch]
            dst[ch] = a[ch] * gv + bx[ch] * xr[ch] + d[ch]


@kernel(fastmath=_FAST)
def _grad_input_planes(g, x, out, a, bx, d, relu, gx):
    """As ``_grad_input_rows`` on (N, C, P) planes."""
    n, c, p = x.shape
    for task in prange(n * c):
        b, ch = task // c, task % c
        gp, xp, op, dst = g[b, ch], x[b, ch], out[b, ch], gx[b, ch]
        ai, bi, di = a[ch], bx[ch], d[ch]
        for i in range(p):
            gv = 0 if relu and op[i] <= 0 else gp[i]
            dst[i] = ai * gv + bi * xp[i] + di


def _view(a):
    """(kind, view, new): the kernels' C-contiguous view of (N, C, *) ``a`` ("rows" (R, C) or "planes"
    (N, C, P)), and a function making an array of ``a``'s shape and layout together with its view."""
    n, c = a.shape[:2]
    if is_channels_last(a) or a.ndim == 2:
        def new():
            if a.ndim == 2:
                arr = buffers.empty(a.shape, a.dtype)
                return arr, arr
            arr = buffers.empty((n, *a.shape[2:], c), a.dtype)
            return arr.transpose(0, 3, 1, 2), arr.reshape(-1, c)
        dense = a.transpose(0, 2, 3, 1) if a.ndim == 4 else np.ascontiguousarray(a)
        return "rows", dense.reshape(-1, c), new

    planes = (n, c, int(np.prod(a.shape[2:])))   # explicit: -1 cannot be inferred for a batch of 0

    def new():
        arr = buffers.empty(a.shape, a.dtype)
        return arr, arr.reshape(planes)
    return "planes", np.ascontiguousarray(a).reshape(planes), new


def _blocks(rows):
    """Row blocks for the partial sums: a few per thread, none tiny."""
    return max(1, min(4 * num_threads(), rows // 64))


def _channel_sums(kind, view, shift):
    if kind == "rows":
        (wide_x,), reps = wide(view)
        return folded(_sums_rows(wide_x, np.tile(shift, reps), _blocks(wide_x.shape[0])).sum(axis=0), reps)
    return _sums_planes(view, shift)


def _scale_shift(mean64, var64, weight, bias, eps):
    """(inv_std, scale, shift) in float64: the normalised output is x * scale + shift per channel."""
    inv64 = 1 / np.sqrt(var64 + eps)
    scale = inv64 if weight is None else inv64 * weight
    shift = -mean64 * scale if bias is None else bias - mean64 * scale
    return inv64, scale, shift


def evaluation_affine(weight, bias, running_mean, running_var, eps, dtype):
    """(scale, shift) in ``dtype`` of batch norm with running statistics, as ``batch_norm_forward``
    computes them: what a convolution's output write folds in (``conv2d_batch_norm_forward``)."""
    _, scale, shift = _scale_shift(running_mean.astype(np.float64), running_var.astype(np.float64), weight,
                                   bias, eps)
    return scale.astype(dtype), shift.astype(dtype)


def apply_affine(out, scale, shift, relu):
    """out = out * scale + shift per channel (then max(., 0) when ``relu``), in place, for (N, C, *)
    ``out`` in either layout: the batch norm of ``batch_norm_forward``'s evaluation, on its own array."""
    if not (out.flags.c_contiguous or is_channels_last(out)):
        raise ValueError(f"apply_affine: `out` must be C-contiguous or channels-last (written in place). "
                         f"Received strides {out.strides} for shape {out.shape}")
    kind, view, _ = _view(out)
    if kind == "rows":
        (wide_view,), reps = wide(view)
        _affine_rows(wide_view, np.tile(scale, reps), np.tile(shift, reps), bool(relu), wide_view)
    else:
        _affine_planes(view, scale, shift, bool(relu), view)
    return out


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps, relu=False):
    """As the reference: -> (out, mean, inv_std), out in ``x``'s layout; running statistics updated
    in place."""
    kind, xv, new = _view(x)
    if training:
        count = x.size // x.shape[1]
        shift = (xv[0] if kind == "rows" else xv[0, :, 0]).astype(np.float64)       # (C,)
        sums = _channel_sums(kind, xv, shift)                                       # (2, C)
        centred_mean = sums[0] / count
        mean64 = shift + centred_mean
        var64 = np.maximum(sums[1] / count - centred_mean ** 2, 0)                  # biased
        update_running_stats(running_mean, running_var, mean64, var64, count, momentum)
    else:
        mean64, var64 = running_mean.astype(np.float64), running_var.astype(np.float64)
    inv64, scale, shift = _scale_shift(mean64, var64, weight, bias, eps)
    out, ov = new()
    if kind == "rows":
        (xw, ow), reps = wide(xv, ov)
        _affine_rows(xw, np.tile(scale, reps).astype(x.dtype), np.tile(shift, reps).astype(x.dtype),
                     bool(relu), ow)
    else:
        _affine_planes(xv, scale.astype(x.dtype), shift.astype(x.dtype), bool(relu), ov)
    return out, mean64.astype(x.dtype), inv64.astype(x.dtype)


def batch_norm_backward(g, x, out, mean, inv_std, weight, training, relu=False):
    """As the reference: -> (dx, dweight, dbias), dx in ``x``'s layout."""
    kind, xv, new = _view(x)
    gv = _view(in_layout(g, x))[1]
    ov = _view(in_layout(out, x))[1] if relu else xv
    mean64, inv64 = mean.astype(np.float64), inv_std.astype(np.float64)
    gx, gxv = new()
    if kind == "rows":
        (gv, xv, ov, gxv), reps = wide(gv, xv, ov, gxv)
        parts = _grad_sums_rows(gv, xv, ov, np.tile(mean64, reps), bool(relu), _blocks(xv.shape[0]))
        sums = folded(parts.sum(axis=0), reps)
    else:
        reps = 1
        sums = _grad_sums_planes(gv, xv, ov, mean64, bool(relu))
    gbias, gweight = sums[0], sums[1] * inv64                                       # (C,)
    a = inv64 if weight is None else inv64 * weight
    if training:
        count = x.size // x.shape[1]
        bx = -a * inv64 * gweight / count
        d = -bx * mean64 - a * gbias / count
    else:
        bx = d = np.zeros_like(a)
    grad_input = _grad_input_rows if kind == "rows" else _grad_input_planes
    grad_input(gv, xv, ov, *(np.tile(v, reps).astype(x.dtype) for v in (a, bx, d)), bool(relu), gxv)
    return gx, gweight.astype(x.dtype), gbias.astype(x.dtype)
