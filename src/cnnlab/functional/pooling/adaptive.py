"""Adaptive pooling (a fixed output grid over any input size) and global pooling (a 1x1 grid)."""

import numpy as np

from ... import backend
from ...autograd import Function
from .._checks import adaptive_output_size, pool_input
from ._common import batch, route_back, select, tile_view, unbatch
from .avg import AvgPool2d


def _adaptive_bounds(size, out):
    """PyTorch's regions: [floor(i * size / out), ceil((i + 1) * size / out)) for i < out."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _averaging_matrix(size, out):
    """(out, size) matrix whose row i averages region i: mean pooling along one axis as a product."""
    start, end = _adaptive_bounds(size, out)
    pos = np.arange(size)[None, :]
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return inside / (end - start)[:, None]


class AdaptiveAvgPool2d(Function):
    """Mean over each adaptive region whose sizes vary (when the output divides the input the regions
    tile it, and ``adaptive_avg_pool2d`` runs ``AvgPool2d`` instead).

    Regions may overlap; averaging is separable, so it is two matrix products with (oH, H) and (oW, W)
    averaging matrices (exact sums, one BLAS call per axis; the backward is the same products transposed).
    """

    @staticmethod
    def forward(ctx, x, output_size=(1, 1)):
        xp = backend.get_array_module(x)
        h, w = x.shape[2:]
        oh, ow = output_size
        ctx.mh = xp.asarray(_averaging_matrix(h, oh), dtype=x.dtype)           # (oH, H)
        ctx.mw = xp.asarray(_averaging_matrix(w, ow), dtype=x.dtype)           # (oW, W)
        t = xp.tensordot(x, ctx.mw, axes=([3], [1]))                           # (N, C, H, oW)
        t = xp.tensordot(t, ctx.mh, axes=([2], [1]))                           # (N, C, oW, oH)
        return xp.ascontiguousarray(t.transpose(0, 1, 3, 2))                    # (N, C, oH, oW)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        t = xp.tensordot(g, ctx.mw, axes=([3], [0]))                           # (N, C, oH, W)
        t = xp.tensordot(t, ctx.mh, axes=([2], [0]))                           # (N, C, W, H)
        return xp.ascontiguousarray(t.transpose(0, 1, 3, 2))                    # (N, C, H, W)


def _adaptive_avg(x, output_size):
    """Adaptive mean of a 4-D tensor: tiling regions are plain average pooling (the kernels' fast path)."""
    (h, w), (oh, ow) = x.shape[2:], output_size
    if h % oh or w % ow:
        return AdaptiveAvgPool2d.apply(x, output_size=output_size)
    kernel = (h // oh, w // ow)
    return AvgPool2d.apply(x, kernel_size=kernel, stride=kernel, padding=(0, 0), out_size=output_size,
                           divisor=np.full(output_size, float(kernel[0] * kernel[1])))


def _region_taps(size, out):
    """(out, K) input positions of each adaptive region, K the largest region; short regions repeat
    their last position, which changes neither the max nor the first arg-max."""
    start, end = _adaptive_bounds(size, out)
    k = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(k)[None, :], end[:, None] - 1)


class AdaptiveMaxPool2d(Function):
    """Max over each adaptive region; backward routes the gradient to the region's arg-max."""

    @staticmethod
    def forward(ctx, x, output_size=(1, 1), return_indices=False):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        oh, ow = output_size
        if h % oh == 0 and w % ow == 0:
            kh, kw = h // oh, w // ow
            windows = tile_view(x, (kh, kw), (oh, ow))                         # (N, C, oH, oW, kH, kW)
            taps_h = np.arange(oh)[:, None] * kh + np.arange(kh)[None, :]       # (oH, kH)
            taps_w = np.arange(ow)[:, None] * kw + np.arange(kw)[None, :]       # (oW, kW)
        else:
            taps_h, taps_w = _region_taps(h, oh), _region_taps(w, ow)           # (oH, kH), (oW, kW)
            kh, kw = taps_h.shape[1], taps_w.shape[1]
            t = xp.take(x, xp.asarray(taps_h.ravel()), axis=2)                 # (N, C, oH*kH, W)
            t = xp.take(t, xp.asarray(taps_w.ravel()), axis=3)                 # (N, C, oH*kH, oW*kW)
            windows = t.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5)  # (N, C, oH, oW, kH, kW)
        arg, out = select(windows.reshape(n, c, oh, ow, kh * kw), True)       # (N, C, oH, oW)
        rows = xp.asarray(taps_h)[xp.arange(oh)[:, None], arg // kw]           # (N, C, oH, oW)
        cols = xp.asarray(taps_w)[xp.arange(ow)[None, :], arg % kw]
        index = rows * w + cols
        ctx.index, ctx.input_shape = index, x.shape
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g):
        return route_back(g, ctx.index, ctx.input_shape)


def adaptive_avg_pool2d(input, output_size):
    """Mean over regions that split the input into a fixed ``output_size`` grid (as PyTorch).

    Region i along an axis of size H covers [floor(i * H / oH), ceil((i + 1) * H / oH)).

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: oH and oW, an int or a pair; a None entry keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, oH, oW).
    """
    fn = "adaptive_avg_pool2d"
    input = pool_input(fn, input)
    size = adaptive_output_size(fn, input, output_size)
    return unbatch(_adaptive_avg(batch(input), size), input)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over regions that split the input into a fixed ``output_size`` grid (as PyTorch).

    Regions as ``adaptive_avg_pool2d``; ties pick the first element in row order.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: oH and oW, an int or a pair; a None entry keeps that input size.
        return_indices: also return the flat index of each pick in its H*W plane.

    Shape:
        (N, C, H, W) -> (N, C, oH, oW).
    """
    fn = "adaptive_max_pool2d"
    input = pool_input(fn, input)
    size = adaptive_output_size(fn, input, output_size)
    result = AdaptiveMaxPool2d.apply(batch(input), output_size=size, return_indices=bool(return_indices))
    if return_indices:
        return unbatch(result[0], input), unbatch(result[1], input)
    return unbatch(result, input)


def global_avg_pool2d(input):
    """Mean over each whole feature map (the head of NIN, GoogLeNet, ResNet).

    Shape:
        (N, C, H, W) -> (N, C, 1, 1); (C, H, W) -> (C, 1, 1).
    """
    fn = "global_avg_pool2d"
    input = pool_input(fn, input)
    return unbatch(_adaptive_avg(batch(input), (1, 1)), input)


def global_max_pool2d(input):
    """Max over each whole feature map; the gradient goes to its first arg-max.

    Shape:
        (N, C, H, W) -> (N, C, 1, 1); (C, H, W) -> (C, 1, 1).
    """
    fn = "global_max_pool2d"
    input = pool_input(fn, input)
    return unbatch(AdaptiveMaxPool2d.apply(batch(input), output_size=(1, 1)), input)
