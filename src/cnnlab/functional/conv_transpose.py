"""Transposed convolution (``conv_transpose2d``): the gradient of ``conv2d`` with respect to its
input.

A strided convolution maps H to about H / s; its transpose maps back, spreading each input pixel
over a kH x kW patch of the output. Computed in the lectures' reference form: spread the input out
(``stride - 1`` zeros between pixels, ``dilation * (k - 1) - padding`` zeros around it), then one
stride-1 ``conv2d`` with the kernel flipped and its in/out channels swapped. Its gradients follow
from ``conv2d``'s and the spreading's, so forward and backward are both the conv2d kernels.
"""

from .. import backend
from ..autograd import Function
from ._checks import conv_transpose2d_args
from .conv import conv2d


class Spread(Function):
    """Place input pixel (i, j) at (lo_h + i*sH, lo_w + j*sW) of a zero canvas (N, C, oH, oW).

    ``lo`` may be negative (large padding crops the first rows); pixels landing outside are dropped.
    """

    @staticmethod
    def forward(ctx, x, stride=(1, 1), lo=(0, 0), out_size=(1, 1)):
        xp = backend.get_array_module(x)
        src, dst = _plan(x.shape[-2:], stride, lo, out_size)
        ctx.shape, ctx.src, ctx.dst = x.shape, src, dst
        out = xp.zeros(x.shape[:-2] + tuple(out_size), dtype=x.dtype)
        out[(Ellipsis,) + dst] = x[(Ellipsis,) + src]
        return out

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        grad[(Ellipsis,) + ctx.src] = g[(Ellipsis,) + ctx.dst]
        return grad


def _plan(in_size, stride, lo, out_size):
    """Per axis, the slice of input pixels that land inside the canvas, and where they land."""
    src, dst = [], []
    for n, s, low, size in zip(in_size, stride, lo, out_size):
        first = max(0, (-low + s - 1) // s)                 # first i with low + i*s >= 0
        stop = min(n, (size - 1 - low) // s + 1)            # past the last i with low + i*s < size
        stop = max(stop, first)
        src.append(slice(first, stop))
        begin = low + first * s
        dst.append(slice(begin, low + (stop - 1) * s + 1 if stop > first else begin, s))
    return tuple(src), tuple(dst)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, as PyTorch's ``conv_transpose2d`` (groups before dilation).

    The adjoint of ``conv2d(x, weight, stride=stride, padding=padding, dilation=dilation,
    groups=groups)``: it upsamples by ``stride`` (decoders, segmentation heads, GAN generators).
    ``output_padding`` adds rows/columns on the bottom/right to pick one of the ``stride`` input
    sizes that the forward convolution maps to the same output size.

    Args:
        input: (N, C_in, H, W), or unbatched (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW) (conv2d's layout with in and out swapped).
        bias: optional (C_out,).
        stride, padding, output_padding, dilation: int or pair; output_padding must be smaller
            than stride or dilation (per axis).
        groups: C_in and C_out are split into this many independent groups.

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)`` with
        ``H_out = (H - 1) * sH - 2 * pH + dH * (kH - 1) + opH + 1``, and likewise for W.

    Example:
        >>> x, w = cnnlab.randn(1, 8, 7, 7), cnnlab.randn(8, 4, 4, 4)
        >>> conv_transpose2d(x, w, stride=2, padding=1).shape
        (1, 4, 14, 14)
    """
    input, unbatched, weight, bias, stride, padding, dilation, groups, out_size = conv_transpose2d_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation)
    c_in, c_out_g, kh, kw = weight.shape
    c_out = c_out_g * groups
    # The canvas a stride-1 convolution with the kH x kW (dilated) kernel turns into out_size.
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    lo = (reach[0] - padding[0], reach[1] - padding[1])
    canvas = (out_size[0] + reach[0], out_size[1] + reach[1])
    spread = Spread.apply(input, stride=stride, lo=lo, out_size=canvas)
    # (C_in, C_out/G, kH, kW) -> (G, C_in/G, C_out/G, kH, kW) -> (C_out, C_in/G, kH, kW), flipped.
    w = weight.reshape(groups, c_in // groups, c_out_g, kh, kw).permute(0, 2, 1, 3, 4)
    w = w.reshape(c_out, c_in // groups, kh, kw)[:, :, ::-1, ::-1]
    out = conv2d(spread, w, bias, stride=1, padding=0, dilation=dilation, groups=groups)
    return out[0] if unbatched else out
