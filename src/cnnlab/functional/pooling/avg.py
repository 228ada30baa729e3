"""Average pooling: the window means run in ``kernels``; the divisor follows PyTorch's padding rules."""

import numpy as np

from ... import kernels
from ...autograd import Function
from .._checks import pool_args
from ._common import batch, unbatch


def avg_divisors(size, out, kernel, stride, padding, count_include_pad):
    """Per-axis divisor of each window, PyTorch's rule.

    The window [start, start + k) is first clipped to the padded input [-p, size + p) (ceil_mode's last
    window may hang past it); that length counts with ``count_include_pad``. Otherwise only the part
    inside the real input [0, size) counts.
    """
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


class AvgPool2d(Function):
    """Sum of each window divided by its divisor; backward spreads each output's gradient evenly."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), out_size=(1, 1), divisor=None):
        ctx.kernels = kernels.for_arrays(x)
        ctx.input_shape, ctx.params = x.shape, (kernel_size, stride, padding, divisor)
        out = ctx.kernels.avg_pool2d_forward(x, kernel_size, stride, padding, out_size, divisor)
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.avg_pool2d_backward(g, ctx.input_shape, *ctx.params)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each kernel window (as ``torch.nn.functional.avg_pool2d``).

    Padding is zeros. The divisor is the window size, except: a ``ceil_mode`` window hanging past the
    padded edge is divided by the part inside it; with ``count_include_pad=False`` only real input
    elements count; ``divisor_override`` replaces both.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, int or (kH, kW).
        stride: step between windows; default ``kernel_size``.
        padding: implicit zero padding on both sides, at most half the kernel size.
        ceil_mode: round the output size up (see ``max_pool2d``).
        count_include_pad: count padded zeros in the divisor.
        divisor_override: a non-zero int to divide every window sum by.

    Shape:
        oH = floor((H + 2 * pH - kH) / sH) + 1 (ceil with ``ceil_mode``), oW alike.
    """
    fn = "avg_pool2d"
    input, kernel, stride, padding, _, (oh, ow) = pool_args(fn, input, kernel_size, stride, padding,
                                                            ceil_mode=ceil_mode,
                                                            divisor_override=divisor_override)
    h, w = input.shape[-2:]
    if divisor_override is not None:
        divisor = np.full((oh, ow), float(divisor_override))
    else:
        dh = avg_divisors(h, oh, kernel[0], stride[0], padding[0], count_include_pad)
        dw = avg_divisors(w, ow, kernel[1], stride[1], padding[1], count_include_pad)
        divisor = (dh[:, None] * dw[None, :]).astype(np.float64)
    out = AvgPool2d.apply(batch(input), kernel_size=kernel, stride=stride, padding=padding,
                          out_size=(oh, ow), divisor=divisor)
    return unbatch(out, input)
