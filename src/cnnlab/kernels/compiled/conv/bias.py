"""The bias gradient: the sum of the output gradient over batch and pixels, per output channel, in
either memory layout."""

import numpy as np
from numba import prange

from .._numba import kernel, num_threads
from .._rows import folded, wide


@kernel
def _channel_sums(a, out):
    """out[c] = sum of a[:, c, :] for NCHW memory as (N, C, H*W), one task per channel: a plane is one
    vector loop (looping over its rows of 8-24 values ran 3x slower)."""
    n, c, m = a.shape
    for ch in prange(c):
        s = 0.0
        for b in range(n):
            plane = a[b, ch]
            for j in range(m):
                s += plane[j]
        out[ch] = s


@kernel
def _row_sums(rows, parts):
    """parts[t] = the column sums of task t's run of rows (P, C): channels-last memory, whose inner
    loop runs over the channels (a vector loop) instead of striding through them."""
    tasks = parts.shape[0]
    p = rows.shape[0]
    for t in prange(tasks):
        acc = parts[t]
        acc[:] = 0
        for r in range(p * t // tasks, p * (t + 1) // tasks):
            row = rows[r]
            for ch in range(acc.size):
                acc[ch] += row[ch]


def conv2d_bias_grad(grad):
    """grad (N, O, oH, oW) -> d bias (O,): the sum over batch and pixels."""
    n, c, h, w = grad.shape
    nhwc = grad.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous and grad.size:
        (rows,), reps = wide(nhwc.reshape(n * h * w, c))
        parts = np.empty((min(num_threads(), rows.shape[0]), rows.shape[1]))    # float64 sums
        _row_sums(rows, parts)
        return folded(parts.sum(axis=0), reps).astype(grad.dtype)
    out = np.empty(c, grad.dtype)
    _channel_sums(np.ascontiguousarray(grad).reshape(n, c, h * w), out)
    return out
