"""Cheap element-wise ops (compiled): ReLU and the residual add + ReLU, one parallel pass each.

They run over the flat memory of dense arrays (NCHW or channels-last alike, the output taking the
input's layout), split into one contiguous block per thread; anything else (strided views, mixed
layouts, broadcasting) goes to the reference.
"""

from numba import prange

from ..reference import elementwise as _reference
from ..reference._layout import empty, in_layout, is_channels_last
from . import buffers
from ._numba import kernel

__all__ = ["relu_forward", "relu_backward", "add_relu_forward"]


@kernel(fastmath=False)
def _relu(x, out):
    for i in prange(x.size):
        v = x[i]
        out[i] = 0 if v < 0 else v          # NaN stays NaN, as PyTorch


@kernel(fastmath=False)
def _relu_grad(g, out, gx):
    for i in prange(g.size):
        gx[i] = 0 if out[i] <= 0 else g[i]     # a NaN output passes it, as PyTorch


@kernel(fastmath=False)
def _add_relu(a, b, out):
    for i in prange(a.size):
        v = a[i] + b[i]
        out[i] = 0 if v < 0 else v


@kernel(fastmath=False)
def _add_relu_mixed(a, b, out):
    """(N, C, H, W) of any two layouts into a channels-last ``out``, walked in its memory order."""
    n, c, h, w = out.shape
    for r in prange(n * h):
        img, i = r // h, r % h
        for j in range(w):
            for ch in range(c):
                v = a[img, ch, i, j] + b[img, ch, i, j]
                out[img, ch, i, j] = 0 if v < 0 else v


def _dense(a):
    """True when ``a`` is C-contiguous or channels-last: its memory is one run, in either case."""
    return a.flags.c_contiguous or is_channels_last(a)


def _flat(a):
    """The 1-D run of a dense array's memory (a view)."""
    return a.ravel(order="K")


def relu_forward(x):
    """As the reference."""
    if not _dense(x):
        return _reference.relu_forward(x)
    out = buffers.empty_like(x)                      # x's layout
    _relu(_flat(x), _flat(out))
    return out


def relu_backward(g, out):
    """As the reference, in ``out``'s layout."""
    if not _dense(out) or g.shape != out.shape:
        return _reference.relu_backward(g, out)
    g = in_layout(g, out)
    gx = buffers.empty_like(out)
    _relu_grad(_flat(g), _flat(out), _flat(gx))
    return gx


def add_relu_forward(a, b):
    """As the reference; both inputs of one shape (the residual block's case), in one layout or the two
    (then the output is channels-last)."""
    if a.shape != b.shape or a.dtype != b.dtype or not _dense(a) or not _dense(b):
        return _reference.add_relu_forward(a, b)
    if a.strides != b.strides:
        # A residual stream meeting a block of the other layout: the output takes the channels-last
        # one, so the stream stays channels-last after the first block (as the convolutions want).
        if a.ndim != 4 or not (is_channels_last(a) or is_channels_last(b)):
            return _reference.add_relu_forward(a, b)
        out = empty(a.shape, a.dtype, a if is_channels_last(a) else b)
        _add_relu_mixed(a, b, out)
        return out
    out = buffers.empty_like(a)
    _add_relu(_flat(a), _flat(b), _flat(out))
    return out
