"""Max and average pooling (compiled): the reference's loops, one parallel region per op.

Two loop orders, one per memory layout, each with a contiguous innermost loop that LLVM vectorises:

- NCHW memory: one task per (image, channel) plane; a tap's reads along an output row are a strided
  run of the input row, and the output row is contiguous.
- channels-last memory: one task per output row of an image; the innermost loop runs over the
  channels, contiguous in the input and the output alike.

Max and average pooling share these loop nests: ``_generated`` compiles each kernel twice, with
the choice of reduction a compile-time constant. Max pooling's 2x2 windows at stride 2 with no
padding, the lectures' pool, have their own kernels written out for four values (``_max_pairs_*``).

Max pooling records the winning tap of each window in a uint8 (kH*kW <= 256), so its backward is one
pass that adds each output's gradient at that tap, with no second look at the input. The taps are
visited in row-major window order and a value replaces the best one when it is larger or NaN: ties
keep the first, the last NaN wins, and a window whose real elements are all -inf keeps its first
real element (padding never wins), as PyTorch. Windows larger than 256 taps use the reference.
"""

import numpy as np
from numba import prange

from ..reference import pool as _reference
from ..reference._layout import in_layout, is_channels_last
from . import buffers
from ._numba import helper, kernel, renamed

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


@helper(fastmath=False)
def _first_inside(start, size, kernel, dilation):
    """The first tap index along one axis whose position start + t * dilation lies in [0, size)."""
    for t in range(kernel):
        pos = start + t * dilation
        if pos >= size:
            break
        if pos >= 0:
            return t
    return -1


@helper(fastmath=False)
def _tap_range(start, size, kernel, dilation):
    """Taps [lo, hi) along one axis whose positions start + t * dilation lie in [0, size)."""
    lo = 0
    while lo < kernel and start + lo * dilation < 0:
        lo += 1
    hi = kernel
    while hi > lo and start + (hi - 1) * dilation >= size:
        hi -= 1
    return lo, hi


@helper(fastmath=False)
def _out_range(offset, size, stride, count):
    """Outputs [lo, hi) along one axis whose tap position j * stride + offset lies in [0, size)."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if offset >= size else min(count, (size - 1 - offset) // stride + 1)
    return lo, max(hi, lo)


@helper(fastmath=False)
def _column_runs(kernel, dilation, padding, size, stride, count):
    """Per tap q along a row: its offset q * dilation - padding and the outputs [lo, hi) whose tap lies
    inside the row (``_out_range``), as an int array (kW, 3) of (offset, lo, hi). They depend on q
    alone, so a plane kernel works them out once per call, not again for every output row and tap row."""
    runs = np.empty((kernel, 3), np.int64)
    for q in range(kernel):
        offset = q * dilation - padding
        lo, hi = _out_range(offset, size, stride, count)
        runs[q, 0], runs[q, 1], runs[q, 2] = offset, lo, hi
    return runs


@helper(fastmath=False)
def _strided(row, start, step, count, buf):
    """row[start::step][:count] as a contiguous run: a slice for step 1, else gathered into ``buf``.
    The comparison loops then index a contiguous array from 0, which LLVM vectorises; a runtime step
    (or an offset that may be negative) inside the loop does not vectorise and ran 4-8x slower."""
    if step == 1:
        return row[start:start + count]
    for j in range(count):
        buf[j] = row[start + j * step]
    return buf[:count]


def _generated(make):
    """``make(is_max)`` compiled twice, for max and for average pooling (``_max_<name>``,
    ``_avg_<name>``): ``is_max`` is a compile-time constant in each, so the branches on it fold away and
    no loop tests it at run time (a run-time flag measured 5-35% slower). Max pooling also takes
    ``taps``; average pooling ``inv_divisor`` (oH, oW), 1 / divisor, and dilation 1."""
    kernels = []
    for is_max, op in ((True, "max"), (False, "avg")):
        fn = make(is_max)
        kernels.append(kernel(fastmath=False)(renamed(fn, f"_{op}_{fn.__name__}")))
    return tuple(kernels)


def _forward_planes(is_max):
    """The forward over NCHW planes, for max (``is_max``) or average pooling."""

    def forward_planes(x, kh, kw, sh, sw, ph, pw, dh, dw, inv_divisor, out, taps):
        """x (P, H, W) planes -> out (P, oH, oW): window maxima and their winning taps (P, oH, oW), or
        window sums times 1 / divisor."""
        dh, dw = (dh, dw) if is_max else (1, 1)   # average pooling: no dilation, a constant for LLVM
        planes, h, w = x.shape
        oh, ow = out.shape[1], out.shape[2]
        cols = _column_runs(kw, dw, pw, w, sw, ow)
        for plane in prange(planes):
            src = x[plane]
            buf = np.empty(ow, x.dtype)
            for i in range(oh):
                o = out[plane, i]
                t = taps[plane, i]
                top = i * sh - ph
                if is_max:
                    p0 = _first_inside(top, h, kh, dh)
                    for j in range(ow):
                        q0 = _first_inside(j * sw - pw, w, kw, dw)
                        o[j] = -np.inf
                        t[j] = p0 * kw + q0 if p0 >= 0 and q0 >= 0 else 0
                else:
                    o[:] = 0
                p_lo, p_hi = _tap_range(top, h, kh, dh)
                for p in range(p_lo, p_hi):
                    row = src[top + p * dh]
                    for q in range(kw):
                        off, j_lo, j_hi = cols[q, 0], cols[q, 1], cols[q, 2]
                        vals = _strided(row, j_lo * sw + off, sw, j_hi - j_lo, buf)
                        oo = o[j_lo:j_hi]
                        if is_max:
                            tt = t[j_lo:j_hi]
                            k = np.uint8(p * kw + q)
                            for j in range(j_hi - j_lo):   # selects, not branches: random data mispredicts them
                                v = vals[j]
                                win = (v > oo[j]) | (v != v)
                                oo[j] = v if win else oo[j]
                                tt[j] = k if win else tt[j]
                        else:
                            for j in range(j_hi - j_lo):
                                oo[j] += vals[j]
                if not is_max:
                    o *= inv_divisor[i]

    return forward_planes


def _forward_nhwc(is_max):
    """The forward over channels-last memory, for max (``is_max``) or average pooling."""

    def forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, inv_divisor, out, taps):
        """x (N, H, W, C) -> out (N, oH, oW, C) (and taps, for max); one task per output row of an image."""
        dh, dw = (dh, dw) if is_max else (1, 1)   # average pooling: no dilation, a constant for LLVM
        n, h, w, c = x.shape
        oh, ow = out.shape[1], out.shape[2]
        for task in prange(n * oh):
            b, i = task // oh, task % oh
            top = i * sh - ph
            p0 = _first_inside(top, h, kh, dh)
            p_lo, p_hi = _tap_range(top, h, kh, dh)
            for j in range(ow):
                o = out[b, i, j]
                t = taps[b, i, j]
                left = j * sw - pw
                if is_max:
                    q0 = _first_inside(left, w, kw, dw)
                    first = p0 * kw + q0 if p0 >= 0 and q0 >= 0 else 0
                    for ch in range(c):
                        o[ch] = -np.inf
                        t[ch] = first
                else:
                    o[:] = 0
                q_lo, q_hi = _tap_range(left, w, kw, dw)
                for p in range(p_lo, p_hi):
                    for q in range(q_lo, q_hi):
                        row = x[b, top + p * dh, left + q * dw]
                        if is_max:
                            k = p * kw + q
                            for ch in range(c):
                                v = row[ch]
                                if v > o[ch] or v != v:
                                    o[ch] = v
                                    t[ch] = k
                        else:
                            for ch in range(c):
                                o[ch] += row[ch]
                if not is_max:
                    o *= inv_divisor[i, j]

    return forward_nhwc


def _backward_planes(is_max):
    """The backward over NCHW planes, for max (``is_max``) or average pooling."""

    def backward_planes(g, taps, kh, kw, sh, sw, ph, pw, dh, dw, inv_divisor, gx):
        """g (P, oH, oW) -> gx (P, H, W): each output's gradient added at its winning tap (max), or
        times 1 / divisor at every element of its window."""
        dh, dw = (dh, dw) if is_max else (1, 1)   # average pooling: no dilation, a constant for LLVM
        planes, h, w = gx.shape
        oh, ow = g.shape[1], g.shape[2]
        cols = _column_runs(kw, dw, pw, w, sw, ow)
        tap_y, tap_x = np.empty(kh * kw, np.intp), np.empty(kh * kw, np.intp)
        for k in range(kh * kw):      # each tap's offsets, looked up: not two divisions an output
            tap_y[k], tap_x[k] = k // kw * dh, k % kw * dw
        for plane in prange(planes):
            dst = gx[plane]
            dst[:, :] = 0
            for i in range(oh):
                top = i * sh - ph
                if is_max:
                    for j in range(ow):
                        k = np.intp(taps[plane, i, j])
                        y, z = top + tap_y[k], j * sw - pw + tap_x[k]
                        if 0 <= y < h and 0 <= z < w:
                            dst[y, z] += g[plane, i, j]
                else:
                    p_lo, p_hi = _tap_range(top, h, kh, dh)
                    for p in range(p_lo, p_hi):
                        row = dst[top + p * dh]
                        for q in range(kw):
                            off, j_lo, j_hi = cols[q, 0], cols[q, 1], cols[q, 2]
                            for j in range(j_lo, j_hi):
                                row[j * sw + off] += g[plane, i, j] * inv_divisor[i, j]

    return backward_planes


def _backward_nhwc(is_max):
    """The backward over channels-last memory, for max (``is_max``) or average pooling."""

    def backward_nhwc(g, taps, kh, kw, sh, sw, ph, pw, dh, dw, inv_divisor, gx):
        """g (N, oH, oW, C) -> gx (N, H, W, C); one task per image (windows overlap within it). For
        max, per output and tap a masked add over the channels: the channel loop stays vectorised."""
        dh, dw = (dh, dw) if is_max else (1, 1)   # average pooling: no dilation, a constant for LLVM
        n, h, w, c = gx.shape
        oh, ow = g.shape[1], g.shape[2]
        for b in prange(n):
            gx[b] = 0
            for i in range(oh):
                top = i * sh - ph
                p_lo, p_hi = _tap_range(top, h, kh, dh)
                for j in range(ow):
                    left = j * sw - pw
                    q_lo, q_hi = _tap_range(left, w, kw, dw)
                    src = g[b, i, j]
                    if is_max:
                        t = taps[b, i, j]
                        for p in range(p_lo, p_hi):
                            for q in range(q_lo, q_hi):
                                k = p * kw + q      # the tap's index, as the forward recorded winners
                                row = gx[b, top + p * dh, left + q * dw]
                                for ch in range(c):
                                    if t[ch] == k:
                                        row[ch] += src[ch]
                    else:
                        scale = inv_divisor[i, j]
                        for p in range(p_lo, p_hi):
                            for q in range(q_lo, q_hi):
                                row = gx[b, top + p * dh, left + q * dw]
                                for ch in range(c):
                                    row[ch] += src[ch] * scale

    return backward_nhwc


_max_forward_planes, _avg_forward_planes = _generated(_forward_planes)
_max_forward_nhwc, _avg_forward_nhwc = _generated(_forward_nhwc)
_max_backward_planes, _avg_backward_planes = _generated(_backward_planes)
_max_backward_nhwc, _avg_backward_nhwc = _generated(_backward_nhwc)


# ---------------------------------------------------------------- 2x2 windows at stride 2, no padding
# The lectures' pool: its windows tile the input, so each output reads four values it alone reads and
# each input gets its gradient from one output. Written out, with no tap ranges or strided gathers, the
# forward runs 5-8x and the backward 1.8-3x faster than the general loops (RESULTS.md).
@helper(fastmath=False)
def _pick(v, tap, best, k):
    """(v, tap) when v beats ``best`` (larger, or NaN: the window's last NaN wins), else (best, k)."""
    win = (v > best) | (v != v)
    return (v, np.uint8(tap)) if win else (best, k)


@kernel(fastmath=False)
def _max_pairs_forward_planes(x, out, taps):
    """x (P, H, W) -> out, taps (P, oH, oW); an odd last row or column is in no window."""
    oh, ow = out.shape[1], out.shape[2]
    for plane in prange(x.shape[0]):
        for i in range(oh):
            top, bottom = x[plane, 2 * i], x[plane, 2 * i + 1]
            o, t = out[plane, i], taps[plane, i]
            for j in range(ow):
                best, k = _pick(top[2 * j + 1], 1, top[2 * j], np.uint8(0))
                best, k = _pick(bottom[2 * j], 2, best, k)
                o[j], t[j] = _pick(bottom[2 * j + 1], 3, best, k)


@kernel(fastmath=False)
def _max_pairs_forward_nhwc(x, out, taps):
    """x (N, H, W, C) -> out, taps (N, oH, oW, C); one task per output row of an image."""
    oh, ow = out.shape[1], out.shape[2]
    for task in prange(x.shape[0] * oh):
        b, i = task // oh, task % oh
        for j in range(ow):
            top_left, top_right = x[b, 2 * i, 2 * j], x[b, 2 * i, 2 * j + 1]
            bottom_left, bottom_right = x[b, 2 * i + 1, 2 * j], x[b, 2 * i + 1, 2 * j + 1]
            o, t = out[b, i, j], taps[b, i, j]
            for ch in range(o.size):
                best, k = _pick(top_right[ch], 1, top_left[ch], np.uint8(0))
                best, k = _pick(bottom_left[ch], 2, best, k)
                o[ch], t[ch] = _pick(bottom_right[ch], 3, best, k)


@kernel(fastmath=False)
def _max_pairs_backward_planes(g, taps, gx):
    """g, taps (P, oH, oW) -> gx (P, H, W): every input written once, its output's gradient or 0."""
    oh, ow = g.shape[1], g.shape[2]
    zero = np.zeros(1, gx.dtype)[0]
    for plane in prange(gx.shape[0]):
        for i in range(oh):
            top, bottom = gx[plane, 2 * i], gx[plane, 2 * i + 1]
            src, t = g[plane, i], taps[plane, i]
            for j in range(ow):     # one loop per destination row: two store streams vectorise, four did not
                top[2 * j] = src[j] if t[j] == 0 else zero
                top[2 * j + 1] = src[j] if t[j] == 1 else zero
            for j in range(ow):
                bottom[2 * j] = src[j] if t[j] == 2 else zero
                bottom[2 * j + 1] = src[j] if t[j] == 3 else zero
            top[2 * ow:] = 0
            bottom[2 * ow:] = 0
        gx[plane, 2 * oh:] = 0


@kernel(fastmath=False)
def _max_pairs_backward_nhwc(g, taps, gx):
    """g, taps (N, oH, oW, C) -> gx (N, H, W, C); one task per output row of an image."""
    oh, ow = g.shape[1], g.shape[2]
    zero = np.zeros(1, gx.dtype)[0]
    for task in prange(g.shape[0] * oh):
        b, i = task // oh, task % oh
        for j in range(ow):
            src, t = g[b, i, j], taps[b, i, j]
            for r, tap in ((2 * i, 0), (2 * i + 1, 2)):
                left, right = gx[b, r, 2 * j], gx[b, r, 2 * j + 1]
                for ch in range(src.size):      # one store stream per loop, as in the planes
                    left[ch] = src[ch] if t[ch] == tap else zero
                for ch in range(src.size):
                    right[ch] = src[ch] if t[ch] == tap + 1 else zero
        gx[b, 2 * i:2 * i + 2, 2 * ow:] = 0
        if i == oh - 1:
            gx[b, 2 * oh:] = 0


def _is_pairs(kernel_size, stride, padding, dilation, in_size, out_size):
    """Whether the windows are 2x2 at stride 2 with no padding, each wholly inside the input."""
    return (tuple(kernel_size) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1) and all(2 * o <= n for o, n in zip(out_size, in_size)))


def _inner(a):
    """A C-contiguous 4-D view of ``a``'s memory for the kernels: (N, H, W, C) for channels-last memory,
    else (N*C, H, W) planes (copied to NCHW first if ``a`` is neither)."""
    if is_channels_last(a):
        return a.transpose(0, 2, 3, 1)
    a = np.ascontiguousarray(a)
    return a.reshape(-1, *a.shape[2:])


def _outer(inner, shape):
    """Back from ``_inner``'s view to an NCHW-shaped array of ``shape``."""
    return inner.transpose(0, 3, 1, 2) if inner.ndim == 4 else inner.reshape(shape)


def _new(like, shape, dtype):
    """An uninitialised kernel-side array for NCHW ``shape``, laid out as ``like`` (from ``_inner``)."""
    n, c, h, w = shape
    return buffers.empty((n, h, w, c) if like.ndim == 4 else (n * c, h, w), dtype=dtype)


def _no_taps(inner):
    """An empty stand-in for average pooling's taps: the kernels take views of it, never read it."""
    return np.empty(inner.shape[:-1] + (0,), np.uint8)


def _no_divisor(out_size, dtype):
    """A stand-in for max pooling's 1 / divisor (oH, oW): read, never used."""
    return np.ones(tuple(out_size), dtype)


def _args(*pairs):
    return tuple(v for pair in pairs for v in pair)


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size):
    """As the reference: -> (out, taps) in ``x``'s layout, ``taps`` uint8."""
    if kernel_size[0] * kernel_size[1] > 256:
        return _reference.max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size)
    xi = _inner(x)
    shape = x.shape[:2] + tuple(out_size)
    out, taps = _new(xi, shape, x.dtype), _new(xi, shape, np.uint8)
    if _is_pairs(kernel_size, stride, padding, dilation, x.shape[2:], out_size):
        (_max_pairs_forward_nhwc if xi.ndim == 4 else _max_pairs_forward_planes)(xi, out, taps)
    else:
        kernel = _max_forward_nhwc if xi.ndim == 4 else _max_forward_planes
        kernel(xi, *_args(kernel_size, stride, padding, dilation), _no_divisor(out_size, x.dtype), out, taps)
    return _outer(out, shape), _outer(taps, shape)


def max_pool2d_backward(g, taps, input_shape, kernel_size, stride, padding, dilation):
    """As the reference; the input gradient has the layout of ``taps`` (the forward input's)."""
    if taps.dtype != np.uint8:
        return _reference.max_pool2d_backward(g, taps, input_shape, kernel_size, stride, padding,
                                              dilation)
    ti = _inner(taps)
    gi = _inner(in_layout(g, taps))
    gx = _new(ti, input_shape, g.dtype)
    if _is_pairs(kernel_size, stride, padding, dilation, input_shape[2:], taps.shape[2:]):
        (_max_pairs_backward_nhwc if ti.ndim == 4 else _max_pairs_backward_planes)(gi, ti, gx)
    else:
        kernel = _max_backward_nhwc if ti.ndim == 4 else _max_backward_planes
        kernel(gi, ti, *_args(kernel_size, stride, padding, dilation), _no_divisor(taps.shape[2:], g.dtype), gx)
    return _outer(gx, input_shape)


def avg_pool2d_forward(x, kernel_size, stride, padding, out_size, divisor):
    """As the reference, in ``x``'s layout."""
    xi = _inner(x)
    shape = x.shape[:2] + tuple(out_size)
    out = _new(xi, shape, x.dtype)
    inv = (1.0 / np.asarray(divisor, dtype=np.float64)).astype(x.dtype)   # (oH, oW)
    kernel = _avg_forward_nhwc if xi.ndim == 4 else _avg_forward_planes
    kernel(xi, *_args(kernel_size, stride, padding, (1, 1)), inv, out, _no_taps(out))
    return _outer(out, shape)


def avg_pool2d_backward(g, input_shape, kernel_size, stride, padding, divisor):
    """As the reference, in ``g``'s layout."""
    gi = _inner(g)
    gx = _new(gi, input_shape, g.dtype)
    inv = (1.0 / np.asarray(divisor, dtype=np.float64)).astype(g.dtype)   # (oH, oW)
    if g.shape[2:] == (1, 1) and tuple(kernel_size) == tuple(input_shape[2:]) and tuple(padding) == (0, 0):
        # one window over the whole image (a global average pool): its gradient, spread evenly; the
        # loops would walk 1-long rows of outputs (1 ms of resnet20's step at 8x8 x 64 channels)
        np.multiply(gi, inv[0, 0], out=gx)
        return _outer(gx, input_shape)
    kernel = _avg_backward_nhwc if gi.ndim == 4 else _avg_backward_planes
    kernel(gi, _no_taps(gi), *_args(kernel_size, stride, padding, (1, 1)), inv, gx)
    return _outer(gx, input_shape)

