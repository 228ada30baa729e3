"""2-D convolution (cross-correlation, as in every deep learning library) and its shape arithmetic.

Forward: im2col, then a matrix product with the kernels, computed channels-last with the batch folded
into the rows: ``columns (N*oH*oW, kH*kW*C/G) @ kernels (kH*kW*C/G, O/G)`` per group gives the output as
(N, oH, oW, O), returned as the (N, O, oH, oW) view of that memory. The columns are built (zero padding
included) and multiplied in cache-sized blocks of pixels (``_im2col.Columns``), the blocks spread over
the cores, so the k^2-times larger column matrix never exists whole. Groups are the batch axis of that
product; depthwise convolution (one input channel per group) is a multiply-add per kernel tap instead.

Backward, as derived in the lectures:
    grad input  = "full" correlation of the output gradient with the 180-degree rotated kernel whose
                  in/out channels are swapped: the gradient is dilated by the stride (stride-1 zeros
                  between its pixels), padded by dilation*(k-1), and correlated with that kernel at the
                  forward dilation; then the padding is cropped (or folded back for reflect/replicate/
                  circular padding through the padding's own backward). Used for stride 1. For larger
                  strides the same sums are done as col2im (gradient @ kernel^T, added back onto the
                  input tap by tap), which skips the s_H*s_W-fold work on the inserted zeros; tests check
                  both forms;
    grad weight = the im2col columns of the padded input ^T @ output gradient, block by block;
    grad bias   = sum of the output gradient over N, H, W.
"""

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd import Function
from ..validation import floating, is_int, padding_pairs, pair, tensor_arg
from ._im2col import (CHUNK_BYTES, Columns, blas_threads_on, even_ranges, ones, output_size, pad_into, padded_nhwc,
                      parallel_map, scratch, sliding_windows)
from .padding import check_pad_sizes, pad_array, pad_array_backward

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _weight_matrix(weight, groups):
    """The kernels as the right operand of the column product, rows in column order.

    Shape:
        (O, C/G, kH, kW) -> (G, kH*kW*C/G, O/G)
    """
    o, cg, kh, kw = weight.shape
    w = weight.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1)   # (G, kH, kW, C/G, O/G)
    return w.reshape(groups, kh * kw * cg, o // groups)


def _out_size(x_shape, weight_shape, pads, stride, dilation):
    (top, bottom), (left, right) = pads
    oh = output_size(x_shape[2] + top + bottom, weight_shape[2], stride[0], dilation[0], 0)
    ow = output_size(x_shape[3] + left + right, weight_shape[3], stride[1], dilation[1], 0)
    return oh, ow


def _correlate(x, weight, bias, pads, stride, dilation, groups):
    """Zero-padded cross-correlation on raw arrays, computed channels-last: column blocks @ kernels.

    Shape:
        x (N, C, H, W) in any memory layout, weight (O, C/G, kH, kW) -> (N, oH, oW, O), contiguous,
        oH = floor((H + top + bottom - dH*(kH-1) - 1) / sH) + 1, likewise oW.
    """
    xp = backend.get_array_module(x, weight)
    n, c = x.shape[:2]
    o, cg, kh, kw = weight.shape
    oh, ow = _out_size(x.shape, weight.shape, pads, stride, dilation)
    if groups == c and cg == 1 and groups > 1:
        return _depthwise(x, weight, bias, pads, stride, dilation, (oh, ow))
    out = xp.empty((n, oh, ow, o), dtype=x.dtype)
    rows = out.reshape(n * oh * ow, o)                                   # (N*oH*oW, O) view
    if _kernels_outweigh_columns(n * oh * ow, o, groups):
        cols = _kernel_order_columns(x, pads, (kh, kw), stride, dilation, (oh, ow))   # (pixels, K)
        kernels = weight.reshape(o, cg * kh * kw).T                      # (K, O), a view when contiguous

        with blas_threads_on():
            xp.matmul(cols, kernels, out=rows)
        if bias is not None:
            out += bias
        return out
    w2 = _weight_matrix(weight, groups)                                  # (G, K, O/G)
    columns = Columns(x, pads, (kh, kw), stride, dilation, groups, (oh, ow))
    # The bias repeated along an output row: adding it to (pixels/oW, oW*O) runs oW*O-long inner loops
    # instead of O-long ones (blocks hold whole output rows).
    row_bias = None if bias is None else xp.tile(bias, ow)

    def block(b):
        cols, r0, r1 = columns.build(b)
        dst = rows[r0:r1]
        if groups == 1:
            xp.matmul(cols, w2[0], out=dst)
        else:
            per_group = cols.reshape(r1 - r0, groups, -1).transpose(1, 0, 2)   # (G, pixels, K)
            dst.reshape(r1 - r0, groups, o // groups)[...] = xp.matmul(per_group, w2).transpose(1, 0, 2)
        if row_bias is not None:
            dst.reshape(-1, ow * o)[...] += row_bias                    # (pixels/oW, oW*O) view

    if n == 1 and groups == 1 and oh * ow * columns.k * x.dtype.itemsize <= SINGLE_BLOCK_BYTES:
        # One image (inference latency): BLAS splits one product between the cores better than row
        # blocks do, each of which would pack the whole kernel matrix again.
        with blas_threads_on():
            block((0, 1, 0, oh))
    else:
        parallel_map(block, columns.blocks)
    return out


SINGLE_BLOCK_BYTES = 8 << 20   # one image's columns up to this size are multiplied in one product


def _tap_windows(xpad, kernel_size, stride, dilation, out_size):
    """Every window of a channels-last padded (N, Hp, Wp, C) input as a view, (N, oH, oW, kH, kW, C)."""
    windows = sliding_windows(xpad.transpose(0, 3, 1, 2), kernel_size, stride, dilation, out_size)
    return windows.transpose(0, 2, 3, 4, 5, 1)                           # from (N, C, oH, oW, kH, kW)


def _kernels_outweigh_columns(pixels, out_channels, groups):
    """True for a few output pixels and many kernels (the last layers of a network at batch 1): the
    kernels are then the larger operand, and reordering them for the channels-last columns would cost
    more than the product; the columns are built in the kernels' own order instead."""
    return groups == 1 and pixels < out_channels


def _kernel_order_columns(x, pads, kernel_size, stride, dilation, out_size):
    """im2col with each window flattened over (channel, kernel row, kernel column), the order of a
    (O, C, kH, kW) kernel's values: (N*oH*oW, C*kH*kW), zero-padded by ``pads``."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    xpad = pad_into(x, pads, xp.empty((n, c, h + top + bottom, w + left + right), dtype=x.dtype),
                    channels_last=False)                                 # (N, C, Hp, Wp)
    windows = sliding_windows(xpad, kernel_size, stride, dilation, out_size)   # (N, C, oH, oW, kH, kW)
    view = windows.transpose(0, 2, 3, 1, 4, 5)                           # (N, oH, oW, C, kH, kW)
    return xp.ascontiguousarray(view).reshape(n * out_size[0] * out_size[1], -1)


def _depthwise(x, weight, bias, pads, stride, dilation, out_size):
    """Depthwise correlation (groups = in_channels), channels-last, without a matrix product.

    A matrix product would have one input channel per group: kH*kW-long dot products, far too small for
    BLAS. With one output channel per input channel, ``einsum`` sums the kH*kW products of each output
    value in a single pass over the window view; with a channel multiplier M > 1, every tap adds
    ``shifted input * kernel value`` for all channels at once.

    Shape:
        x (N, C, H, W), weight (C*M, 1, kH, kW) -> (N, oH, oW, C*M), M the channel multiplier
    """
    xp = backend.get_array_module(x)
    n, c = x.shape[:2]
    o, _, kh, kw = weight.shape
    m = o // c
    oh, ow = out_size
    xpad = padded_nhwc(x, pads)                                            # (N, Hp, Wp, C)
    step = max(1, CHUNK_BYTES // max(1, oh * ow * c * m * x.dtype.itemsize))
    if m == 1:
        windows = _tap_windows(xpad, (kh, kw), stride, dilation, out_size)  # (N, oH, oW, kH, kW, C)
        taps = xp.ascontiguousarray(weight.reshape(c, kh, kw).transpose(1, 2, 0))   # (kH, kW, C)
        out = xp.empty((n, oh, ow, c), dtype=x.dtype)

        def block(span):
            n0, n1 = span
            if xp is np:
                xp.einsum("nhwpqc,pqc->nhwc", windows[n0:n1], taps, out=out[n0:n1])
            else:
                out[n0:n1] = xp.einsum("nhwpqc,pqc->nhwc", windows[n0:n1], taps)
    else:
        taps = weight.reshape(c, m, kh * kw)                               # (C, M, kH*kW), out channel c*M + j
        out = xp.zeros((n, oh, ow, c, m), dtype=x.dtype)

        def block(span):
            n0, n1 = span
            acc = out[n0:n1]
            tmp = scratch(xp, "depthwise", acc.shape, x.dtype)
            for t in range(kh * kw):
                p, q = divmod(t, kw)
                src = xpad[n0:n1, p * dilation[0]:p * dilation[0] + stride[0] * (oh - 1) + 1:stride[0],
                           q * dilation[1]:q * dilation[1] + stride[1] * (ow - 1) + 1:stride[1]]   # (b, oH, oW, C)
                xp.multiply(src[..., None], taps[:, :, t], out=tmp)
                acc += tmp

    parallel_map(block, even_ranges(n, step), blas=False)
    out = out.reshape(n, oh, ow, o)
    if bias is not None:
        out += bias
    return out


def _pad_input(x, pads, padding_mode):
    """Pad (N, C, H, W) by ``pads = ((top, bottom), (left, right))`` in a non-zero padding mode."""
    if pads == ((0, 0), (0, 0)):
        return x
    return pad_array(x, pads, "constant" if padding_mode == "zeros" else padding_mode, 0.0)


def _rotated_kernel(weight, groups):
    """The kernel of the input-gradient correlation: rotated 180 degrees, in/out channels swapped per group.

    Shape:
        (O, C/G, kH, kW) -> (C, O/G, kH, kW)
    """
    o, cg, kh, kw = weight.shape
    w = weight.reshape(groups, o // groups, cg, kh, kw)                  # (G, O/G, C/G, kH, kW)
    w = w.transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]                      # (G, C/G, O/G, kH, kW), rotated
    return w.reshape(groups * cg, o // groups, kh, kw)                   # (C, O/G, kH, kW)


def _nchw(a):
    """(N, H, W, C) -> the (N, C, H, W) view of the same memory (channels-last strides)."""
    return a.transpose(0, 3, 1, 2)


def _input_grad_flipped(grad, weight, input_shape, pads, stride, dilation, groups, padding_mode):
    """Gradient of the input, the lectures' way: full correlation of the stride-dilated gradient with
    the rotated, in/out-swapped kernel; then the padding is cropped (or folded back).

    Returns (N, C, H, W) with channels-last strides.
    """
    xp = backend.get_array_module(grad)
    n, o, oh, ow = grad.shape
    _, _, kh, kw = weight.shape
    (top, bottom), (left, right) = pads
    h, w = input_shape[-2:]
    hp, wp = h + top + bottom, w + left + right
    reach_h, reach_w = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
    if stride != (1, 1):
        # Gradient pixel (i, j) belongs at (i*s, j*s): spread it out with stride-1 zeros in between.
        spread = xp.zeros((n, o, (oh - 1) * stride[0] + 1, (ow - 1) * stride[1] + 1), dtype=grad.dtype)
        spread[:, :, ::stride[0], ::stride[1]] = grad
        grad = spread
    gh, gw = grad.shape[2:]
    # Padded by d*(k-1) in front and up to the padded input's size behind (rows no window reached, the
    # stride's leftover, only meet zeros), the full correlation gives the padded input's gradient. With
    # zero padding only the real input is wanted: drop `top` rows in front and `bottom` behind, which
    # may cut into the gradient itself when the padding exceeds the kernel's reach.
    if padding_mode == "zeros":
        before = (reach_h - top, reach_w - left)
        after = (hp - gh - bottom, wp - gw - right)
    else:
        before, after = (reach_h, reach_w), (hp - gh, wp - gw)
    grad = grad[:, :, max(0, -before[0]):gh - max(0, -after[0]), max(0, -before[1]):gw - max(0, -after[1])]
    gpads = ((max(0, before[0]), max(0, after[0])), (max(0, before[1]), max(0, after[1])))
    gx = _nchw(_correlate(grad, _rotated_kernel(weight, groups), None, gpads, (1, 1), dilation, groups))
    if padding_mode == "zeros":
        return gx                                                           # (N, C, H, W)
    return pad_array_backward(gx, input_shape, pads, padding_mode)          # fold the (N, C, Hp, Wp) back


def _input_grad_col2im(grad, weight, input_shape, pads, stride, dilation, groups, padding_mode, grad_rows=None):
    """Gradient of the input as col2im: columns = gradient @ kernel^T, added back onto the padded input.

    The same sums as the flipped-kernel form, without the stride's inserted zeros: with stride s the
    dilated gradient is mostly zeros and the full correlation would do s_H*s_W times the work. One
    strided add per kernel tap, channels-last, block by block over the batch.

    Returns (N, C, H, W) with channels-last strides.
    """
    xp = backend.get_array_module(grad)
    n, o, oh, ow = grad.shape
    _, cg, kh, kw = weight.shape
    c = cg * groups
    (top, bottom), (left, right) = pads
    h, w = input_shape[-2:]
    hp, wp = h + top + bottom, w + left + right
    sh, sw = stride
    dh, dw = dilation
    if grad_rows is None:  # (N*oH*oW, O); the convolution's backward passes the one it already has
        grad_rows = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n * oh * ow, o)
    gx = xp.zeros((n, hp, wp, groups, cg), dtype=grad.dtype)                           # channels-last
    depthwise = groups == c and cg == 1 and groups > 1
    if depthwise:
        taps = weight.reshape(c, o // c, kh * kw)                                      # (C, M, kH*kW)
    else:
        w2t = _weight_matrix(weight, groups).transpose(0, 2, 1)                        # (G, O/G, K)
    step = max(1, CHUNK_BYTES // max(1, oh * ow * kh * kw * c * grad.dtype.itemsize))

    def block(span):
        n0, n1 = span
        b, rows = n1 - n0, (n1 - n0) * oh * ow
        g = grad_rows[n0 * oh * ow:n1 * oh * ow]                                           # (pixels, O)
        if depthwise:
            g = g.reshape(b, oh, ow, c, o // c)
        elif groups == 1:
            cols = xp.matmul(g, w2t[0], out=scratch(xp, "cols", (rows, w2t.shape[2]), grad.dtype))
            cols = cols.reshape(b, oh, ow, 1, kh, kw, cg)
        else:
            cols = xp.matmul(g.reshape(rows, groups, o // groups).transpose(1, 0, 2), w2t)   # (G, pixels, K)
            cols = cols.transpose(1, 0, 2).reshape(b, oh, ow, groups, kh, kw, cg)
        for p in range(kh):
            for q in range(kw):
                dst = gx[n0:n1, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw]
                if depthwise:
                    dst[..., 0] += (g * taps[:, :, p * kw + q]).sum(axis=-1)
                else:
                    dst += cols[:, :, :, :, p, q]

    parallel_map(block, even_ranges(n, step))
    gx = _nchw(gx.reshape(n, hp, wp, c))                                               # (N, C, Hp, Wp)
    if padding_mode == "zeros":
        return gx[:, :, top:top + h, left:left + w]
    return pad_array_backward(gx, input_shape, pads, padding_mode)


def _input_grad(grad, weight, input_shape, pads, stride, dilation, groups, padding_mode, grad_rows):
    """Gradient of the input: the flipped-kernel correlation for stride 1 (where it is also the fastest),
    col2im for larger strides (same sums, without multiplying the stride's inserted zeros)."""
    if stride == (1, 1):
        return _input_grad_flipped(grad, weight, input_shape, pads, stride, dilation, groups, padding_mode)
    return _input_grad_col2im(grad, weight, input_shape, pads, stride, dilation, groups, padding_mode, grad_rows)


def _weight_grad(x, grad_rows, weight_shape, pads, stride, dilation, groups, out_size):
    """Gradient of the kernels: columns^T @ output gradient, summed block by block over the batch.

    Shape:
        x (N, C, H, W), grad_rows (N*oH*oW, O) -> (O, C/G, kH, kW)
    """
    xp = backend.get_array_module(x)
    o, cg, kh, kw = weight_shape
    og = o // groups
    c = x.shape[1]
    if groups == c and cg == 1 and groups > 1:
        return _depthwise_weight_grad(x, grad_rows, weight_shape, pads, stride, dilation, out_size)
    if _kernels_outweigh_columns(grad_rows.shape[0], o, groups):
        cols = _kernel_order_columns(x, pads, (kh, kw), stride, dilation, out_size)   # (pixels, K)
        gw = xp.empty((o, cg * kh * kw), dtype=x.dtype)

        with blas_threads_on():
            xp.matmul(grad_rows.T, cols, out=gw)
        return gw.reshape(weight_shape)
    columns = Columns(x, pads, (kh, kw), stride, dilation, groups, out_size)

    def block(b):
        cols, r0, r1 = columns.build(b)
        g = grad_rows[r0:r1]                                                     # (pixels, O)
        if groups == 1:
            return xp.matmul(cols.T, g)[None]                                    # (1, K, O)
        return xp.matmul(cols.reshape(r1 - r0, groups, -1).transpose(1, 2, 0),
                         g.reshape(r1 - r0, groups, og).transpose(1, 0, 2))        # (G, K, O/G)

    parts = parallel_map(block, columns.blocks)
    if not parts:
        return xp.zeros(weight_shape, dtype=x.dtype)
    gw = parts[0]
    for part in parts[1:]:
        gw += part
    gw = gw.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2)             # (G, O/G, C/G, kH, kW)
    return xp.ascontiguousarray(gw).reshape(weight_shape)


def _depthwise_weight_grad(x, grad_rows, weight_shape, pads, stride, dilation, out_size):
    """d kernel[c*M + j, 0, p, q] = sum over pixels of grad[..., c, j] * shifted input[..., c]: one
    ``einsum`` over the window view, batch block by batch block."""
    xp = backend.get_array_module(x)
    o, _, kh, kw = weight_shape
    n, c = x.shape[:2]
    m = o // c
    oh, ow = out_size
    windows = _tap_windows(padded_nhwc(x, pads), (kh, kw), stride, dilation, out_size)   # (N, oH, oW, kH, kW, C)
    g = grad_rows.reshape(n, oh, ow, c, m)
    step = max(1, CHUNK_BYTES // max(1, oh * ow * c * m * x.dtype.itemsize))

    def block(span):
        n0, n1 = span
        return xp.einsum("nhwpqc,nhwcm->cmpq", windows[n0:n1], g[n0:n1])   # (C, M, kH, kW)

    parts = parallel_map(block, even_ranges(n, step), blas=False)
    gw = parts[0]
    for part in parts[1:]:
        gw += part
    return gw.reshape(weight_shape)


class Conv2d(Function):
    """Cross-correlation of (N, C, H, W) with (O, C/G, kH, kW), plus an optional bias per output channel.

    The output has the (N, O, oH, oW) shape with channels-last strides (the column product writes
    (N, oH, oW, O)); element-wise ops keep that layout and the next convolution reads it without a copy.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                padding_mode="zeros"):
        ctx.unbatched = x.ndim == 3
        if ctx.unbatched:
            x = x[None]                                                  # (C, H, W) -> (1, C, H, W)
        ctx.input_shape = x.shape
        if padding_mode != "zeros":
            x = _pad_input(x, pads, padding_mode)                        # reflect/replicate/circular, (N, C, Hp, Wp)
            cpads = ((0, 0), (0, 0))
        else:
            cpads = pads                                                 # zero padding happens block by block
        out = _nchw(_correlate(x, weight, bias, cpads, stride, dilation, groups))   # (N, O, oH, oW)
        ctx.save_for_backward(x, weight)
        ctx.pads, ctx.cpads, ctx.stride, ctx.dilation = pads, cpads, stride, dilation
        ctx.groups, ctx.padding_mode = groups, padding_mode
        return out[0] if ctx.unbatched else out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        xp = backend.get_array_module(grad)
        if ctx.unbatched:
            grad = grad[None]                                            # (O, oH, oW) -> (1, O, oH, oW)
        need_x, need_w, need_b = ctx.needs_input_grad
        n, o, oh, ow = grad.shape
        grad_rows = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n * oh * ow, o)   # (N*oH*oW, O)
        gx = gw = gb = None
        if need_x:
            gx = _input_grad(grad, weight, ctx.input_shape, ctx.pads, ctx.stride, ctx.dilation, ctx.groups,
                             ctx.padding_mode, grad_rows)
            if ctx.unbatched:
                gx = gx[0]
        if need_w:
            gw = _weight_grad(x, grad_rows, weight.shape, ctx.cpads, ctx.stride, ctx.dilation, ctx.groups,
                              (oh, ow))
        if need_b:
            gb = ones(xp, grad_rows.shape[0], grad_rows.dtype) @ grad_rows      # sum over pixels, (O,)
        return gx, gw, gb


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """2-D convolution (cross-correlation) of an image batch with a bank of filters, as PyTorch's ``conv2d``.

    Each output channel o at position (i, j) is
    ``bias[o] + sum_{c, p, q} weight[o, c, p, q] * x_padded[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]``,
    where g is o's group. Computed as one matrix product of the kernels with the im2col columns.

    Args:
        input: (N, C, H, W), or unbatched (C, H, W).
        weight: (out_channels, in_channels / groups, kH, kW).
        bias: optional (out_channels,).
        stride: int or (sH, sW), positive.
        padding: int, (pH, pW), ((top, bottom), (left, right)) for asymmetric padding, ``"valid"``
            (no padding) or ``"same"`` (output size = input size; stride 1 only; total padding
            dilation*(k-1) with the odd pixel on the bottom/right, as PyTorch).
        dilation: int or (dH, dW), positive: spacing between kernel taps.
        groups: in and out channels are split into this many groups, each convolved separately;
            ``groups = in_channels`` is a depthwise convolution (out_channels = multiplier * in_channels).
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``, as
            ``torch.nn.Conv2d(padding_mode=...)``.

    Shape:
        input (N, C, H, W), weight (O, C/G, kH, kW) -> (N, O, oH, oW) with
        oH = floor((H + top + bottom - dH*(kH-1) - 1) / sH) + 1, and likewise oW;
        with symmetric padding P: floor((W - D(F-1) - 1 + 2P) / S) + 1.

    Example:
        >>> x = cnnlab.randn(1, 3, 32, 32)
        >>> w = cnnlab.randn(10, 3, 5, 5)
        >>> conv2d(x, w, stride=1, padding=2).shape
        (1, 10, 32, 32)
    """
    fn = "conv2d"
    input = tensor_arg(fn, "input", input, ndim=(3, 4), shape_hint="(N, C, H, W) or unbatched (C, H, W)")
    weight = tensor_arg(fn, "weight", weight, ndim=4, shape_hint="(out_channels, in_channels/groups, kH, kW)")
    floating(fn, "input", input)
    floating(fn, "weight", weight)
    if input.dtype != weight.dtype:
        raise TypeError(f"{fn}: `input` and `weight` must have the same dtype. Received input {input.dtype} "
                        f"and weight {weight.dtype}")
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{fn}: `groups` must be a positive int. Received: groups={groups!r}")
    o, cg, kh, kw = weight.shape
    c = input.shape[-3]
    shapes = f"(input shape {input.shape}, weight shape {weight.shape})"
    if 0 in weight.shape:  # PyTorch refuses these too (a RuntimeError there)
        raise ValueError(f"{fn}: `weight` must have at least one output channel, one input channel "
                         f"and a 1x1 kernel. Received weight shape {weight.shape}")
    if o % groups:
        raise ValueError(f"{fn}: `groups`={groups} must divide the output channels, but weight has {o} "
                         f"{shapes}")
    if c % groups:
        raise ValueError(f"{fn}: `groups`={groups} must divide the input channels, but input has {c} {shapes}")
    if c != cg * groups:
        expects = f"{cg * groups} ({cg} per group x groups={groups})" if groups > 1 else f"{cg}"
        raise ValueError(f"{fn}: input has {c} channels but weight expects {expects} {shapes}")
    if bias is not None:
        bias = tensor_arg(fn, "bias", bias)
        if bias.shape != (o,):
            raise ValueError(f"{fn}: `bias` must have shape ({o},), one value per output channel. "
                             f"Received bias shape {bias.shape} {shapes}")
        if bias.dtype != weight.dtype:
            raise TypeError(f"{fn}: `bias` must have the dtype of `weight` ({weight.dtype}). "
                            f"Received bias {bias.dtype}")
    stride = pair(fn, "stride", stride, minimum=1)
    dilation = pair(fn, "dilation", dilation, minimum=1)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{fn}: `padding_mode` must be one of {', '.join(repr(m) for m in PADDING_MODES)}. "
                         f"Received: padding_mode={padding_mode!r}")
    pads = padding_pairs(fn, padding, (kh, kw), stride, dilation)
    h, w = input.shape[-2:]
    if padding_mode != "zeros":
        check_pad_sizes(fn, "padding", padding if isinstance(padding, str) else pads, input.shape, pads,
                        padding_mode)
    hp, wp = h + sum(pads[0]), w + sum(pads[1])
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if span_h > hp or span_w > wp:
        raise ValueError(f"{fn}: the kernel is larger than the padded input: kernel {kh}x{kw} with dilation "
                         f"{dilation} spans {span_h}x{span_w}, but the input {h}x{w} padded by {pads} is "
                         f"{hp}x{wp} {shapes}")
    if input.ndim == 4 and input.shape[0] == 0:
        # An empty batch gives an empty (0, O, oH, oW) output, as PyTorch: convolve one zero image
        # and keep none of it; the zero-sized term connects `input` to its (empty) gradient.
        xp = backend.get_array_module(input.data)
        one = type(input)(xp.zeros((1, *input.shape[1:]), input.dtype))
        out = Conv2d.apply(one, weight, bias, stride=stride, pads=pads, dilation=dilation,
                           groups=groups, padding_mode=padding_mode)[:0]
        return out + input.sum() * 0 if input.requires_grad else out
    return Conv2d.apply(input, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=groups,
                        padding_mode=padding_mode)


# ---------------------------------------------------------------------------------------- shape arithmetic

def _axis_args(fn, size, kernel_size, stride, padding, dilation):
    """Normalise the per-axis arguments; ``is_pair`` is True when any of them was given as a pair."""
    is_pair = any(isinstance(v, (tuple, list)) for v in (size, kernel_size, stride, padding, dilation))
    size = pair(fn, "size", size, minimum=1)
    kernel_size = pair(fn, "kernel_size", kernel_size, minimum=1)
    stride = pair(fn, "stride", stride, minimum=1)
    dilation = pair(fn, "dilation", dilation, minimum=1)
    if isinstance(padding, str):
        pads = padding_pairs(fn, padding, kernel_size, stride, dilation)
        padding = tuple(a + b for a, b in pads)
        totals = padding
    else:
        padding = pair(fn, "padding", padding, minimum=0)
        totals = tuple(2 * p for p in padding)
    return is_pair, size, kernel_size, stride, padding, totals, dilation


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution: floor((W - D(F-1) - 1 + 2P) / S) + 1.

    Args:
        size: input length W (int) or (H, W).
        kernel_size, stride, padding, dilation: int or pair, as in ``conv2d``; ``padding`` may also be
            ``"valid"`` or ``"same"``.

    Returns:
        an int, or a pair when any argument is a pair.

    Example:
        >>> conv_output_size(227, 11, stride=4)      # AlexNet conv1: (227 - 11) / 4 + 1
        55
        >>> conv_output_size((32, 32), 5, padding=2)
        (32, 32)
    """
    fn = "conv_output_size"
    is_pair, size, kernel, stride, padding, totals, dilation = _axis_args(fn, size, kernel_size, stride, padding,
                                                                          dilation)
    out = []
    for axis in range(2):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if span > size[axis] + totals[axis]:
            raise ValueError(f"{fn}: the kernel does not fit: kernel {kernel[axis]} with dilation {dilation[axis]} "
                             f"spans {span}, but the padded input is {size[axis] + totals[axis]} "
                             f"(size {size[axis]} + padding {totals[axis]}). Received: size={size[axis]}, "
                             f"kernel_size={kernel[axis]}, padding={padding[axis]}")
        out.append(output_size(size[axis], kernel[axis], stride[axis], dilation[axis], totals[axis]))
    return tuple(out) if is_pair else out[0]


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output length of a pooling layer: floor (or ceil) of (W + 2P - D(F-1) - 1) / S, plus 1.

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), as in PyTorch. With ``ceil_mode``
    a last, partial window counts if it starts inside the input or the left padding.

    Example:
        >>> pool_output_size(55, 3, stride=2)        # AlexNet's overlapping pooling
        27
        >>> pool_output_size(7, 2, ceil_mode=True)
        4
    """
    fn = "pool_output_size"
    if stride is None:
        stride = kernel_size
    is_pair, size, kernel, stride, padding, totals, dilation = _axis_args(fn, size, kernel_size, stride, padding,
                                                                          dilation)
    out = []
    for axis in range(2):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if padding[axis] > kernel[axis] // 2:  # PyTorch's rule, on the undilated kernel
            raise ValueError(f"{fn}: `padding` must be at most half of the kernel size (kernel_size // 2 = "
                             f"{kernel[axis] // 2}). Received: padding={padding[axis]}, kernel_size={kernel[axis]}")
        if span > size[axis] + totals[axis]:
            raise ValueError(f"{fn}: the kernel does not fit: it spans {span}, but the padded input is "
                             f"{size[axis] + totals[axis]}. Received: size={size[axis]}, kernel_size={kernel[axis]}")
        out.append(output_size(size[axis], kernel[axis], stride[axis], dilation[axis], totals[axis], ceil_mode))
    return tuple(out) if is_pair else out[0]


@dataclass(frozen=True)
class FitReport:
    """Whether a kernel/stride/padding configuration tiles the (padded) input exactly, and in words.

    Attributes:
        fits: True when (W - D(F-1) - 1 + 2P) / S is an integer for every axis: the last window ends
            exactly on the last row/column of the padded input.
        output_size: the output length (int, or (H, W) when pairs were given).
        leftover: rows/columns at the end of the padded input that no window covers (same form).
        text: the explanation shown by ``str()``.
    """

    fits: bool
    output_size: object
    leftover: object
    text: str

    def __str__(self):
        return self.text


def _explain_axis(size, kernel, stride, total_padding, dilation):
    """(fits, output, leftover, formula sentence, padding cells among the leftover) for one axis."""
    span = dilation * (kernel - 1) + 1
    padded = size + total_padding
    f_term = f"{span}" if dilation == 1 else f"{span} [dilated kernel: {dilation}*({kernel} - 1) + 1]"
    p_term = ""
    if total_padding:
        p_term = f" + 2*{total_padding // 2}" if total_padding % 2 == 0 else f" + {total_padding}"
    if span > padded:
        return False, 0, padded, (f"the kernel does not fit at all: it spans {span} but the padded input has "
                                  f"only {padded}"), 0
    room = padded - span
    out, leftover = room // stride + 1, room % stride
    expr = f"({size}{p_term} - {f_term}) / {stride} + 1"
    if leftover == 0:
        sentence = f"{expr} = {out}"
    else:
        sentence = f"{expr} = {room / stride + 1:.2f} is not an integer"
    right_padding = total_padding - total_padding // 2
    return leftover == 0, out, leftover, sentence, min(leftover, right_padding)


def explain_fit(size, kernel_size, stride=1, padding=0, dilation=1):
    """Say in words whether a convolution's windows tile the (padded) input exactly, and what is left over.

    When (W - F + 2P) / S + 1 is not an integer the output size is rounded down, and the last rows or
    columns of the input are never inside any window: they are silently ignored.

    Args:
        size, kernel_size, stride, padding, dilation: as in ``conv_output_size`` (ints or pairs;
            ``padding`` is symmetric, or ``"valid"``/``"same"``).

    Returns:
        a ``FitReport`` with ``.fits``, ``.output_size``, ``.leftover`` and ``.text`` (also its ``str()``).

    Example:
        >>> report = explain_fit(7, 3, stride=3)
        >>> report.fits, report.output_size, report.leftover
        (False, 2, 1)
        >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
        7x7 input, 3x3 kernel, stride 3: does not fit: (7 - 3) / 3 + 1 = 2.33 is not an integer, so the output
        is 2x2 (rounded down) and the last 1 row(s) and the last 1 column(s) of the input are never covered by
        any window.
    """
    fn = "explain_fit"
    is_pair, size, kernel, stride, padding, totals, dilation = _axis_args(fn, size, kernel_size, stride, padding,
                                                                          dilation)
    axes = [_explain_axis(size[a], kernel[a], stride[a], totals[a], dilation[a]) for a in range(2)]
    fits = all(a[0] for a in axes)
    outputs = tuple(a[1] for a in axes)
    leftovers = tuple(a[2] for a in axes)

    def show(v):
        return f"{v[0]}" if v[0] == v[1] else f"({v[0]}, {v[1]})"

    header = f"{size[0]}x{size[1]} input, {kernel[0]}x{kernel[1]} kernel, stride {show(stride)}"
    if totals != (0, 0):
        header += f", padding {show(padding)}"
    if dilation != (1, 1):
        header += f", dilation {show(dilation)}"

    def uncovered(axis, unit):
        _, _, leftover, _, pad_cells = axes[axis]
        if leftover == 0:
            return None
        text = f"the last {leftover} {unit}(s)"
        if pad_cells == leftover:
            text += " (all padding: no input pixel is lost)"
        elif pad_cells:
            text += f" ({pad_cells} of them padding)"
        return text

    same_axes = axes[0] == axes[1] and totals[0] == totals[1]
    detail = axes[0][3] if same_axes else f"height: {axes[0][3]}; width: {axes[1][3]}"
    if any(a[1] == 0 for a in axes):
        text = f"{header}: does not fit: {detail}; there is no output."
    elif fits:
        text = (f"{header}: fits: {detail}, so the output is {outputs[0]}x{outputs[1]} and the last window ends "
                f"exactly on the last row and column.")
    else:
        parts = [p for p in (uncovered(0, "row"), uncovered(1, "column")) if p]
        where = "padded input" if totals != (0, 0) else "input"
        text = (f"{header}: does not fit: {detail}, so the output is {outputs[0]}x{outputs[1]} (rounded down) and "
                f"{' and '.join(parts)} of the {where} are never covered by any window.")
    skipped = []
    for axis, unit in ((0, "row"), (1, "column")):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if stride[axis] > span and outputs[axis] > 1:
            skipped.append(f"{stride[axis] - span} {unit}(s)")
    if skipped:
        text += (f" Note: the stride is larger than the kernel span, so {' and '.join(skipped)} between "
                 f"neighbouring windows are skipped too.")
    if is_pair:
        return FitReport(fits, outputs, leftovers, text)
    return FitReport(fits, outputs[0], leftovers[0], text)
