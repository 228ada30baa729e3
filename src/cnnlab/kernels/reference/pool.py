"""Max and average pooling on window views (reference): the lectures' form, over NumPy or CuPy.

A window view (N, C, oH, oW, kH, kW) of the padded input holds every kernel window without a copy;
the forward reduces its two trailing axes. The backward hands each output's gradient back tap by tap:
for tap (i, j) the input positions it read form one strided slice of the padded input, so the
gradient is a kH*kW-long loop of slice-adds (overlapping windows add up, as the chain rule says).

Max pooling keeps, per output, the tap of the window that won (its index in row-major window order):
the backward routes the whole gradient there. Every kernel accepts NCHW or channels-last memory and
returns its output in the input's memory layout.
"""

from ... import backend
from ._layout import empty, in_layout

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


def _padded(x, padding, out_size, kernel_size, stride, dilation, value):
    """``x`` padded by ``padding`` on top/left and as far as the last window reaches on bottom/right."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    (ph, pw), (oh, ow) = padding, out_size
    reach_h = (oh - 1) * stride[0] + dilation[0] * (kernel_size[0] - 1) + 1   # rows the windows span
    reach_w = (ow - 1) * stride[1] + dilation[1] * (kernel_size[1] - 1) + 1
    shape = (n, c, max(reach_h, ph + h), max(reach_w, pw + w))
    out = empty(shape, x.dtype, x)
    out[...] = value
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _window_view(x, kernel_size, stride, dilation, out_size):
    """(N, C, H, W) -> (N, C, oH, oW, kH, kW): element [n, c, i, j, p, q] is
    x[n, c, i*sH + p*dH, j*sW + q*dW]. A view, no copy."""
    xp = backend.get_array_module(x)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, out_size
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = xp.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))  # every dense span
    return windows[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw, ::dh, ::dw]


def _tap_slices(tap, stride, dilation, out_size):
    """(rows, cols): the slices of the padded input that tap (i, j) of every window reads."""
    (i, j), (sh, sw), (dh, dw), (oh, ow) = tap, stride, dilation, out_size
    return (slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size):
    """Max over each window of ``x`` padded with -inf -> (out, taps), both (N, C, oH, oW).

    ``taps`` is the winning tap's index in row-major window order, chosen as PyTorch does: the first of
    equal values, the last NaN if the window holds any, and the first real (non-padding) element if
    every real element is -inf.
    """
    xp = backend.get_array_module(x)
    (kh, kw), (oh, ow) = kernel_size, out_size
    n, c, h, w = x.shape
    padded = _padded(x, padding, out_size, kernel_size, stride, dilation, -xp.inf)
    windows = _window_view(padded, kernel_size, stride, dilation, out_size)
    flat = windows.reshape(n, c, oh, ow, kh * kw)                       # (N, C, oH, oW, kH*kW), a copy
    taps = flat.argmax(axis=-1)                                         # first of equal values
    nan = xp.isnan(flat)
    last_nan = kh * kw - 1 - nan[..., ::-1].argmax(axis=-1)
    taps = xp.where(nan.any(axis=-1), last_nan, taps)
    real = _window_view(_padded(xp.ones((1, 1, h, w), bool), padding, out_size, kernel_size, stride,
                                dilation, False), kernel_size, stride, dilation, out_size)
    first_real = real.reshape(oh, ow, kh * kw).argmax(axis=-1)          # (oH, oW)
    out = xp.take_along_axis(flat, taps[..., None], axis=-1)[..., 0]
    taps = xp.where(out == -xp.inf, first_real, taps)
    return in_layout(out, x), in_layout(taps.astype(xp.uint8 if kh * kw <= 256 else xp.intp), x)


def max_pool2d_backward(g, taps, input_shape, kernel_size, stride, padding, dilation):
    """Gradient of max pooling: each output's gradient goes to the input element its tap names."""
    xp = backend.get_array_module(g)
    (kh, kw), (ph, pw), out_size = kernel_size, padding, g.shape[2:]
    n, c, h, w = input_shape
    gx = _padded(xp.zeros(input_shape, g.dtype), padding, out_size, kernel_size, stride, dilation, 0)
    for k in range(kh * kw):
        rows, cols = _tap_slices(divmod(k, kw), stride, dilation, out_size)
        gx[:, :, rows, cols] += xp.where(taps == k, g, 0)
    return in_layout(gx[:, :, ph:ph + h, pw:pw + w], g)


def avg_pool2d_forward(x, kernel_size, stride, padding, out_size, divisor):
    """Sum of each window of ``x`` padded with zeros, divided by ``divisor`` (oH, oW)."""
    xp = backend.get_array_module(x)
    padded = _padded(x, padding, out_size, kernel_size, stride, (1, 1), 0)
    windows = _window_view(padded, kernel_size, stride, (1, 1), out_size)    # (N, C, oH, oW, kH, kW)
    out = windows.sum(axis=(4, 5)) / xp.asarray(divisor, dtype=x.dtype)
    return in_layout(out.astype(x.dtype, copy=False), x)


def avg_pool2d_backward(g, input_shape, kernel_size, stride, padding, divisor):
    """Gradient of average pooling: every element of a window receives g / divisor of that window."""
    xp = backend.get_array_module(g)
    (kh, kw), (ph, pw), out_size = kernel_size, padding, g.shape[2:]
    n, c, h, w = input_shape
    share = g / xp.asarray(divisor, dtype=g.dtype)                          # (N, C, oH, oW)
    gx = _padded(xp.zeros(input_shape, g.dtype), padding, out_size, kernel_size, stride, (1, 1), 0)
    for i in range(kh):
        for j in range(kw):
            rows, cols = _tap_slices((i, j), stride, (1, 1), out_size)
            gx[:, :, rows, cols] += share
    return in_layout(gx[:, :, ph:ph + h, pw:pw + w], g)
