"""Subsampling: keep the top-left value of each window (LeNet's S-layers without their weight)."""

from ... import backend
from ...autograd import Function
from .._checks import pool_args
from ._common import batch, unbatch


class Subsample2d(Function):
    """Top-left element of each window: ``x[:, :, ::sH, ::sW]`` cut to the window count."""

    @staticmethod
    def forward(ctx, x, stride=(1, 1), out_size=(1, 1)):
        (sh, sw), (oh, ow) = stride, out_size
        ctx.input_shape, ctx.stride, ctx.out_size = x.shape, stride, out_size
        return x[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw].copy()

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        (sh, sw), (oh, ow) = ctx.stride, ctx.out_size
        gx = xp.zeros(ctx.input_shape, dtype=g.dtype)
        gx[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw] = g
        return gx


def subsample2d(input, kernel_size, stride=None):
    """Keep the top-left value of each kernel window (plain downsampling, as in LeNet's S-layers
    without their trainable weight); the gradient goes back to those positions only.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, int or (kH, kW); only decides how many windows fit.
        stride: step between windows; default ``kernel_size``.

    Shape:
        oH = floor((H - kH) / sH) + 1, oW alike.
    """
    fn = "subsample2d"
    input, kernel, stride, _, _, out_size = pool_args(fn, input, kernel_size, stride)
    return unbatch(Subsample2d.apply(batch(input), stride=stride, out_size=out_size), input)
