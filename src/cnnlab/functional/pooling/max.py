"""Max and min pooling: the window maxima run in ``kernels``, with the winning tap of each window."""

import numpy as np

from ... import backend, kernels
from ...autograd import Function
from .._checks import pool_args
from ._common import batch, unbatch


class MaxPool2d(Function):
    """Max over each kernel window; backward routes the gradient to the window's winning tap.

    The kernel returns the maxima and, per window, which tap won (its row-major index in the window,
    PyTorch's choice on ties and NaN); the backward is one pass that sends each output's gradient to
    that tap. ``return_indices`` turns the taps into PyTorch's flat H*W plane indices. The output
    keeps the input's memory layout, as PyTorch's does: the next convolution reads channels-last
    memory without a transposing copy (a flatten after it copies, a fraction of the input).
    """

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), out_size=(1, 1),
                return_indices=False):
        ctx.kernels = kernels.for_arrays(x)
        out, taps = ctx.kernels.max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size)
        ctx.taps, ctx.input_shape = taps, x.shape
        ctx.params = (kernel_size, stride, padding, dilation)
        if return_indices:
            return out, _plane_index(taps, x.shape[3], *ctx.params)
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.max_pool2d_backward(g, ctx.taps, ctx.input_shape, *ctx.params)


def _plane_index(taps, width, kernel_size, stride, padding, dilation):
    """Flat H*W plane index of each window's winning tap (PyTorch's ``return_indices``), int64."""
    xp = backend.get_array_module(taps)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel_size, stride, padding, dilation, taps.shape[2:]
    corner = (np.arange(oh) * sh - ph)[:, None] * width + (np.arange(ow) * sw - pw)[None, :]   # (oH, oW)
    offset = (np.arange(kh) * dh)[:, None] * width + (np.arange(kw) * dw)[None, :]             # (kH, kW)
    return xp.asarray(corner) + xp.asarray(offset.ravel())[taps.astype(np.intp)]               # (N, C, oH, oW)


def _extreme_pool(fn, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, largest):
    input, kernel, stride, padding, dilation, out_size = pool_args(fn, input, kernel_size, stride, padding,
                                                                   dilation, ceil_mode)
    x = batch(input) if largest else -batch(input)    # min pooling is -max_pool2d(-x): same picks
    result = MaxPool2d.apply(x, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                             out_size=out_size, return_indices=bool(return_indices))
    out, index = result if return_indices else (result, None)
    out = unbatch(out if largest else -out, input)
    return (out, unbatch(index, input)) if return_indices else out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each kernel window (as ``torch.nn.functional.max_pool2d``).

    Padding counts as -inf, so it never wins. On ties the first element in window order (row by row)
    wins, and receives the whole gradient.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, int or (kH, kW).
        stride: step between windows; default ``kernel_size``.
        padding: implicit -inf padding on both sides, at most half the kernel size.
        dilation: spacing between window elements.
        ceil_mode: round the output size up (a last, partial window that starts inside the input or the
            left padding is kept).
        return_indices: also return, per output, the flat index of the picked element in its H*W plane.

    Shape:
        oH = floor((H + 2 * pH - dH * (kH - 1) - 1) / sH) + 1 (ceil with ``ceil_mode``), oW alike.

    Example:
        >>> max_pool2d(x, 2)          # (N, C, 28, 28) -> (N, C, 14, 14)
    """
    return _extreme_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices, largest=True)


def min_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Min over each kernel window: ``-max_pool2d(-input)``.

    Padding counts as +inf; ties pick the first element in window order. Arguments and shape as
    ``max_pool2d``.
    """
    return _extreme_pool("min_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices, largest=False)
