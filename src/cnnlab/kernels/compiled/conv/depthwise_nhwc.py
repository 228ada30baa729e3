"""Depthwise convolution on channels-last memory (the layout the columns' formulation answers in):
loops whose inner loop runs over the channels, one filter per channel. A channel multiplier M runs
them once per filter k on the (..., C, M)[..., k] views (strided when M > 1, rare). The functions
take the package's shared signatures; ``depthwise`` calls them for inputs stored channels-last."""

import numpy as np
from numba import prange

from .layout import _as_rows, _out_size, _padded_nhwc, _padded_size
from .. import buffers
from .._numba import helper, kernel, num_threads


@helper
def _multiply_add(dst, a, b):
    """dst += a * b over the channels (a vector loop)."""
    for ch in range(dst.size):
        dst[ch] += a[ch] * b[ch]


@kernel
def _dw_forward(xp, w, bias, sh, sw, dh, dw, out):
    """xp (N, Hp, Wp, C) padded, w (kH, kW, C), bias (C,) -> out (N, oH, oW, C), one output row
    per task."""
    n, oh, ow, c = out.shape
    kh, kw = w.shape[:2]
    for r in prange(n * oh):
        b, i = r // oh, r % oh
        for j in range(ow):
            dst = out[b, i, j]
            dst[:] = bias
            for p in range(kh):
                for q in range(kw):
                    _multiply_add(dst, xp[b, i * sh + p * dh, j * sw + q * dw], w[p, q])


@kernel
def _dw_input_grad(g, w, sh, sw, dh, dw, gxp):
    """g (N, oH, oW, C) added onto the padded input's gradient gxp (N, Hp, Wp, C), one image per
    task (no two tasks add to one pixel)."""
    n, oh, ow, c = g.shape
    kh, kw = w.shape[:2]
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                for p in range(kh):
                    for q in range(kw):
                        _multiply_add(gxp[b, i * sh + p * dh, j * sw + q * dw], g[b, i, j], w[p, q])


@kernel
def _dw_weight_grad(xp, g, sh, sw, dh, dw, parts):
    """parts[t] (kH, kW, C) sums over task t's images."""
    n, oh, ow, c = g.shape
    tasks, kh, kw = parts.shape[:3]
    for t in prange(tasks):
        acc = parts[t]
        acc[:] = 0
        for b in range(n * t // tasks, n * (t + 1) // tasks):
            for i in range(oh):
                for j in range(ow):
                    for p in range(kh):
                        for q in range(kw):
                            _multiply_add(acc[p, q], xp[b, i * sh + p * dh, j * sw + q * dw],
                                          g[b, i, j])


def _dw_taps(weight, c):
    """(C*M, 1, kH, kW) -> (kH, kW, C, M)."""
    o, _, kh, kw = weight.shape
    return np.ascontiguousarray(weight.reshape(c, o // c, kh, kw).transpose(2, 3, 0, 1))


def forward(x, weight, bias, pads, stride, dilation, groups):
    n, c = x.shape[:2]
    out_size = _out_size(x.shape, weight.shape[2:], pads, stride, dilation)
    o = weight.shape[0]
    xp = _padded_nhwc(x, pads)
    b = np.zeros((c, o // c), x.dtype) if bias is None else bias.reshape(c, o // c)
    out = buffers.empty((n, *out_size, c, o // c), x.dtype)
    taps = _dw_taps(weight, c)
    for k in range(o // c):
        _dw_forward(xp, taps[..., k], np.ascontiguousarray(b[:, k]), *stride, *dilation, out[..., k])
    return out.reshape(n, *out_size, o).transpose(0, 3, 1, 2)


def _depthwise_grad_rows(grad, c):
    """(N, C*M, oH, oW) -> (N, oH, oW, C, M) channels-last."""
    n, o, oh, ow = grad.shape
    return _as_rows(grad).reshape(n, oh, ow, c, o // c)


def input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    n, c, h, w = input_shape
    hp, wp = _padded_size(input_shape, pads)
    gxp = buffers.zeros((n, hp, wp, c), grad.dtype)
    g, taps = _depthwise_grad_rows(grad, c), _dw_taps(weight, c)
    for k in range(weight.shape[0] // c):
        _dw_input_grad(g[..., k], taps[..., k], *stride, *dilation, gxp)
    (top, _), (left, _) = pads
    return gxp[:, top:top + h, left:left + w].transpose(0, 3, 1, 2)


def weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    n, c = x.shape[:2]
    o, _, kh, kw = weight_shape
    xp = _padded_nhwc(x, pads)
    tasks = max(1, min(n, num_threads()))
    parts = buffers.empty((tasks, kh, kw, c, o // c), x.dtype)
    g = _depthwise_grad_rows(grad, c)
    for k in range(o // c):
        _dw_weight_grad(xp, g[..., k], *stride, *dilation, parts[..., k])
    gw = parts.sum(axis=0)                                                 # (kH, kW, C, M)
    return np.ascontiguousarray(gw.transpose(2, 3, 0, 1)).reshape(weight_shape)
