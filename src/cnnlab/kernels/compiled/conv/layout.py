"""Channels-last copies the convolution formulations share: padded (N, Hp, Wp, C) images and (pixels, C) rows
from either memory layout, each one parallel pass."""

import numpy as np
from numba import prange

from .. import buffers
from .._numba import helper, kernel


NCHW_PIXEL_CHANNELS = 16   # from here on, an NCHW row is transposed pixel by pixel (``_pad_to_nhwc``)


@helper
def _zero_borders(out, b, i, top_rows, h_rows, left, w_cols):
    """Zero row i of image b of out (N, Hp, Wp, C) outside the copied block [left, left + w_cols)
    of rows [top_rows, top_rows + h_rows); the whole row when i is outside."""
    row = out[b, i]
    if i < top_rows or i >= top_rows + h_rows:
        row[:] = 0
    else:
        row[:max(0, left)] = 0
        row[max(0, left + w_cols):] = 0


@kernel
def _pad_to_nhwc(x, nchw, top, left, out):
    """x C-contiguous, (N, C, H, W) when ``nchw`` else (N, H, W, C) -> out (N, Hp, Wp, C), one task per
    output row: a channels-last row is one contiguous copy, an NCHW one a transposing copy. With few
    channels each plane's row is read once; with NCHW_PIXEL_CHANNELS or more each output pixel's
    channels are written as one run (a channel's scattered writes took 2-6x longer: 6.6 against 2.0 ms
    for N32 C128 28x28)."""
    n, hp, wp, c = out.shape
    h, w = (x.shape[2], x.shape[3]) if nchw else (x.shape[1], x.shape[2])
    j0, j1 = max(0, left), min(wp, w + left)
    for r in prange(n * hp):
        b, i = r // hp, r % hp
        _zero_borders(out, b, i, max(0, top), min(hp, h + top) - max(0, top), left, w)
        y = i - top
        if 0 <= y < h and j1 > j0:
            if nchw and c < NCHW_PIXEL_CHANNELS:
                dst = out[b, i]
                for ch in range(c):
                    src = x[b, ch, y]
                    for j in range(j0, j1):
                        dst[j, ch] = src[j - left]
            elif nchw:
                for j in range(j0, j1):
                    px = out[b, i, j]
                    for ch in range(c):
                        px[ch] = x[b, ch, y, j - left]
            else:
                dst = out[b, i, j0:j1].reshape((j1 - j0) * c)
                src = x[b, y, j0 - left:j1 - left].reshape((j1 - j0) * c)
                for v in range(src.size):
                    dst[v] = src[v]


def _nhwc_pad(x, top, left, hp, wp):
    """x (N, C, H, W) in either layout -> (N, Hp, Wp, C) zero-padded, channels-last; ``top``/``left``
    may be negative (crop). Channels-last x with nothing to pad comes back as it is (a view, read
    only by the callers): a 1x1 shortcut's input is not copied."""
    nhwc = x.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous and top == left == 0 and (hp, wp) == x.shape[2:]:
        return nhwc
    out = buffers.empty((x.shape[0], hp, wp, x.shape[1]), x.dtype)
    if nhwc.flags.c_contiguous:
        _pad_to_nhwc(nhwc, False, top, left, out)
    else:
        _pad_to_nhwc(np.ascontiguousarray(x), True, top, left, out)
    return out

@kernel
def _rows(a, out):
    """(N, C, H, W) any layout -> out (N*H*W, C), channels-last rows."""
    n, c, h, w = a.shape
    for r in prange(n * h):
        b, i = r // h, r % h
        for j in range(w):
            dst = out[(b * h + i) * w + j]
            for ch in range(c):
                dst[ch] = a[b, ch, i, j]


def _as_rows(a):
    """(N, C, H, W) -> (N*H*W, C): a view of channels-last memory, else a compiled transpose."""
    n, c, h, w = a.shape
    nhwc = a.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous:
        return nhwc.reshape(n * h * w, c)
    out = buffers.empty((n * h * w, c), a.dtype)
    _rows(a, out)
    return out

def _nhwc(x):
    """(N, C, H, W) in either layout -> (N, H, W, C) C-contiguous: a view of channels-last memory."""
    n, c, h, w = x.shape
    return _as_rows(x).reshape(n, h, w, c)


def _padded_nhwc(x, pads):
    return _nhwc_pad(x, pads[0][0], pads[1][0], *_padded_size(x.shape, pads))

def _padded_size(shape, pads):
    return shape[-2] + sum(pads[0]), shape[-1] + sum(pads[1])


def _out_size(shape, kernel_size, pads, stride, dilation):
    """(oH, oW) of a convolution of an input of ``shape`` padded by ``pads``."""
    hp, wp = _padded_size(shape, pads)
    return ((hp - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1,
            (wp - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1)
