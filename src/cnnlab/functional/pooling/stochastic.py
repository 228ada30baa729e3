"""Stochastic pooling (Zeiler & Fergus 2013): sample each window's output in proportion to its activations."""

import numpy as np

from ... import backend
from ...autograd import Function
from ...kernels.windows import sliding_windows
from .._checks import pool_args, stochastic_pool_args
from ._common import batch, route_back, taps, unbatch


class StochasticPool2d(Function):
    """Stochastic pooling over non-negative activations.

    Each window's probabilities are p_i = a_i / sum(a). Training: output the activation at one location
    drawn with those probabilities; the gradient goes to that location. Inference: output the
    probability-weighted mean sum(p_i a_i) = sum(a^2) / sum(a), whose gradient is
    d/da_i = (2 a_i - out) / sum(a). A window of zeros outputs 0 and passes no gradient.
    """

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), out_size=(1, 1), training=True, generator=None):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (oh, ow) = kernel_size, stride, out_size
        ctx.training, ctx.input_shape = training, x.shape
        ctx.kernel_size, ctx.stride = kernel_size, stride
        windows = sliding_windows(x, kernel_size, stride, (1, 1), out_size)    # (N, C, oH, oW, kH, kW)
        if not training:
            total = windows.sum(axis=(4, 5))                                # (N, C, oH, oW)
            squares = xp.zeros_like(total)
            for i, j in taps(kernel_size):
                tap = windows[:, :, :, :, i, j]
                squares += tap * tap
            alive = total > 0
            safe = xp.where(alive, total, 1)
            out = xp.where(alive, squares / safe, 0).astype(x.dtype, copy=False)
            ctx.save_for_backward(x, out, safe, alive)
            return out
        # Inverse-CDF sampling, all windows at once: draw u ~ U[0, 1) per window and pick the first tap
        # whose running sum exceeds u * sum(a), i.e. the number of taps whose running sum does not.
        # Taps with a_i = 0 are never the first to exceed it, so they are never picked (unless rounding
        # puts u * sum(a) at the total: the pick is then capped at the window's last non-zero tap).
        total = windows.sum(axis=(4, 5))                                    # (N, C, oH, oW)
        threshold = xp.asarray(generator.random(total.shape, dtype=np.dtype(x.dtype).type)) * total
        running = xp.zeros_like(total)
        pick = xp.zeros(total.shape, dtype=np.int64)
        last_nonzero = xp.zeros(total.shape, dtype=np.int64)
        for k, (i, j) in enumerate(taps(kernel_size)):
            tap = windows[:, :, :, :, i, j]
            running += tap
            pick += running <= threshold
            last_nonzero[tap > 0] = k
        pick = xp.minimum(pick, last_nonzero)
        corner = (np.arange(oh) * sh)[:, None] * w + (np.arange(ow) * sw)[None, :]       # (oH, oW)
        offset = np.arange(kh)[:, None] * w + np.arange(kw)[None, :]                     # (kH, kW)
        index = xp.asarray(corner) + xp.asarray(offset.ravel())[pick]                    # (N, C, oH, oW)
        out = xp.take_along_axis(x.reshape(n, c, h * w), index.reshape(n, c, oh * ow), axis=2).reshape(index.shape)
        ctx.index, ctx.alive = index, total > 0
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.training:
            return route_back(g, ctx.index, ctx.input_shape, ctx.alive)
        xp = backend.get_array_module(g)
        x, out, safe, alive = ctx.saved_tensors
        (sh, sw), (oh, ow) = ctx.stride, out.shape[2:]
        windows = sliding_windows(x, ctx.kernel_size, ctx.stride, (1, 1), (oh, ow))  # (N, C, oH, oW, kH, kW)
        scale = xp.where(alive, g / safe, 0)
        gx = xp.zeros(x.shape, dtype=g.dtype)
        for i, j in taps(ctx.kernel_size):  # d out / d a_ij = (2 a_ij - out) / sum(a), tap by tap
            tap_grad = (2 * windows[:, :, :, :, i, j] - out) * scale
            gx[:, :, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw] += tap_grad
        return gx


def stochastic_pool2d(input, kernel_size, stride=None, training=True, generator=None):
    """Stochastic pooling (Zeiler & Fergus 2013): sample each window's output by its activations.

    A regulariser for non-negative (post-ReLU) maps: in training each window outputs a_i with
    probability a_i / sum(a); at inference it outputs the expectation sum(a^2) / sum(a). A window of
    zeros outputs 0.

    Args:
        input: (N, C, H, W) or (C, H, W), every value >= 0.
        kernel_size: window size, int or (kH, kW).
        stride: step between windows; default ``kernel_size``.
        training: sample (True) or take the expectation (False).
        generator: a ``numpy.random.Generator``; default cnnlab's (``cnnlab.manual_seed`` seeds it).

    Shape:
        oH = floor((H - kH) / sH) + 1, oW alike.
    """
    fn = "stochastic_pool2d"
    input, kernel, stride, _, _, out_size = pool_args(fn, input, kernel_size, stride)
    generator = stochastic_pool_args(fn, input, generator)
    out = StochasticPool2d.apply(batch(input), kernel_size=kernel, stride=stride, out_size=out_size,
                                 training=bool(training), generator=generator)
    return unbatch(out, input)
