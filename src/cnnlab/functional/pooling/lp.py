"""Power-average (Lp) pooling, composed from average (or max) pooling and a p-th root."""

import math

from ... import backend
from ...autograd import Function
from .._checks import lp_norm_type, pool_args
from .avg import avg_pool2d
from .max import max_pool2d, min_pool2d


class LpRoot(Function):
    """``(scale * s) ** (1 / p)``, the last step of Lp pooling, with gradient 0 where ``s == 0``.

    d/ds = scale / p * (scale * s) ** (1/p - 1) = out / (p * s); at s == 0 it is infinite for p > 1, and
    PyTorch documents the gradient there as zero.
    """

    @staticmethod
    def forward(ctx, s, norm_type=2.0, scale=1.0):
        xp = backend.get_array_module(s)
        out = xp.power(s * scale, 1.0 / norm_type)
        ctx.save_for_backward(s, out)
        ctx.norm_type = norm_type
        return out

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        s, out = ctx.saved_tensors
        nonzero = s != 0
        return xp.where(nonzero, g * out / (ctx.norm_type * xp.where(nonzero, s, 1)), 0).astype(g.dtype, copy=False)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x ** p) ** (1 / p) (as ``torch.nn.functional.lp_pool2d``).

    p = 1 is sum pooling, p = 2 is L2 pooling, p = inf is max pooling of |x| (and p = -inf min pooling
    of |x|, as PyTorch). Computed as PyTorch does: ``avg_pool2d(x ** p) * kH * kW``, then the p-th
    root, so a ``ceil_mode`` window cut short by the edge is scaled up to the full window size.

    Args:
        input: (N, C, H, W) or (C, H, W).
        norm_type: p > 0, or +-inf.
        kernel_size: window size, int or (kH, kW).
        stride: step between windows; default ``kernel_size``.
        ceil_mode: round the output size up (see ``max_pool2d``).

    Shape:
        oH = floor((H - kH) / sH) + 1 (ceil with ``ceil_mode``), oW alike.
    """
    fn = "lp_pool2d"
    lp_norm_type(fn, norm_type)
    input, kernel, stride, *_ = pool_args(fn, input, kernel_size, stride, ceil_mode=ceil_mode)
    if norm_type == math.inf:
        return max_pool2d(input.abs(), kernel, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return min_pool2d(input.abs(), kernel, stride, 0, 1, ceil_mode)
    norm_type = float(norm_type)
    mean = avg_pool2d(input ** norm_type, kernel, stride, 0, ceil_mode)
    return LpRoot.apply(mean, norm_type=norm_type, scale=float(kernel[0] * kernel[1]))
