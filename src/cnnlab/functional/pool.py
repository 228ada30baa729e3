"""Pooling: max, min, average, power-average, adaptive, global, subsampling, stochastic and fractional.

Max and average pooling, the hot ones, run in ``kernels`` (``max_pool2d_forward`` and friends): the
window maxima with the winning tap of each window, the window means, and their backward passes. The
others read their windows here through one strided view (``sliding_windows``, no copy) of shape
(N, C, oH, oW, kH, kW).

Ops that pick one element per window (max, min, adaptive max, fractional max, stochastic pooling in
training) can report the picked element's flat index in its H*W input plane, as PyTorch's
``return_indices`` does; the backward of the adaptive, fractional and stochastic picks adds the output
gradient at those indices with one ``scatter_add`` (overlapping windows may pick the same element twice).

Layout is NCHW; a 3-D (C, H, W) input is treated as one unbatched sample, as in PyTorch.
"""

import math

import numpy as np

from .. import backend, kernels
from ..autograd import Function
from ..kernels.windows import sliding_windows
from ..tensor import Tensor
from ..validation import floating, is_int, is_real, pair, tensor_arg
from .conv import output_size as _output_size
from ._scatter import scatter_add

__all__ = [
    "max_pool2d", "min_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "global_avg_pool2d", "global_max_pool2d", "subsample2d", "stochastic_pool2d", "fractional_max_pool2d",
]


# ---------------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------------

def _check_input(fn, input):
    """A floating 4-D (N, C, H, W) or 3-D (C, H, W) tensor with non-empty C, H and W."""
    input = tensor_arg(fn, "input", input, ndim=(3, 4), shape_hint="(N, C, H, W) or unbatched (C, H, W)")
    floating(fn, "input", input)
    if 0 in input.shape[-3:]:
        raise ValueError(f"{fn}: `input` must have non-zero channels, height and width. "
                         f"Received a tensor of shape {input.shape}")
    return input


def _batch(input):
    """View a (C, H, W) input as one sample (1, C, H, W); a 4-D input is returned as is."""
    return input if input.ndim == 4 else input.reshape(1, *input.shape)


def _unbatch(t, input):
    """Drop the batch axis added by ``_batch`` again."""
    return t if input.ndim == 4 else t.reshape(t.shape[1:])


def _stride(fn, stride, kernel):
    """PyTorch's default: no stride (None or an empty list) means stride = kernel_size."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return pair(fn, "stride", stride)


def _check_padding(fn, padding, kernel):
    """PyTorch's rule: padding <= kernel_size // 2 (whatever the dilation), so no window is all padding."""
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{fn}: `padding` must be at most half of the kernel size (kernel_size // 2). "
            f"Received: padding={padding} with kernel_size={kernel}")


def _window_counts(fn, shape, kernel, stride, padding, dilation, ceil_mode):
    """Output (oH, oW), raising a clear error when no window fits."""
    h, w = shape
    oh = _output_size(h, kernel[0], stride[0], dilation[0], 2 * padding[0], ceil_mode)
    ow = _output_size(w, kernel[1], stride[1], dilation[1], 2 * padding[1], ceil_mode)
    if oh < 1 or ow < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        pad = f" with padding={padding}" if padding != (0, 0) else ""
        dil = f", dilation={dilation}" if dilation != (1, 1) else ""
        raise ValueError(
            f"{fn}: output would be empty: input of size (H, W)={shape}{pad} is smaller than the kernel "
            f"(kernel_size={kernel}{dil}, spanning {span}). Expected H + 2 * padding >= dilation * "
            f"(kernel_size - 1) + 1 in each dimension")
    return oh, ow


def _taps(kernel_size):
    """Every kernel tap (i, j) in window order (row by row)."""
    return [(i, j) for i in range(kernel_size[0]) for j in range(kernel_size[1])]


def _tile_view(x, kernel, out):
    """(N, C, H, W) -> (N, C, oH, oW, kH, kW) when windows tile the input: a reshape, no strides."""
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out
    t = x.reshape(n, c, oh, kh, ow, kw)   # (N, C, oH, kH, oW, kW)
    return t.transpose(0, 1, 2, 4, 3, 5)  # (N, C, oH, oW, kH, kW)


def _select(flat, largest, out=None):
    """Arg-max (or arg-min) over the last axis, with PyTorch's choice on ties and NaN.

    PyTorch scans a window in order and replaces its pick when ``val > best or isnan(val)``: ties keep
    the first element, and a NaN anywhere wins, the last NaN of the window being the one reported.
    ``argmax`` already keeps the first of equal values; the NaN rule is applied only if a NaN is present.
    Returns (arg, out); ``out``, the extreme values, is gathered unless given.
    """
    xp = backend.get_array_module(flat)
    arg = flat.argmax(axis=-1) if largest else flat.argmin(axis=-1)
    if out is None:
        out = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    nan_out = xp.isnan(out)
    if bool(nan_out.any()):
        last_nan = flat.shape[-1] - 1 - xp.isnan(flat[..., ::-1]).argmax(axis=-1)
        arg = xp.where(nan_out, last_nan, arg)
    return arg, out


def _route_back(g, index, input_shape, valid=None):
    """Backward of a pick: add ``g`` (N, C, oH, oW) at flat plane positions ``index`` of each input plane."""
    xp = backend.get_array_module(g)
    n, c, h, w = input_shape
    planes = xp.arange(n * c, dtype=index.dtype).reshape(n, c, 1, 1) * (h * w)
    positions = index + planes
    if valid is not None:  # windows that hold no input element send their gradient nowhere
        g = xp.where(valid, g, 0)
        positions = xp.where(valid, positions, 0)
    return scatter_add(n * c * h * w, positions, g, g.dtype).reshape(input_shape)


# ---------------------------------------------------------------------------------------------------
# max / min pooling
# ---------------------------------------------------------------------------------------------------

class MaxPool2d(Function):
    """Max over each kernel window; backward routes the gradient to the window's winning tap.

    The kernel returns the maxima and, per window, which tap won (its row-major index in the window,
    PyTorch's choice on ties and NaN); the backward is one pass that sends each output's gradient to
    that tap. ``return_indices`` turns the taps into PyTorch's flat H*W plane indices.
    """

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), out_size=(1, 1),
                return_indices=False):
        ctx.kernels = kernels.for_arrays(x)
        out, taps = ctx.kernels.max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size)
        ctx.taps, ctx.input_shape = taps, x.shape
        ctx.params = (kernel_size, stride, padding, dilation)
        out = backend.get_array_module(out).ascontiguousarray(out)   # NCHW: a following flatten is a view
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
    input = _check_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    stride = _stride(fn, stride, kernel)
    padding = pair(fn, "padding", padding, minimum=0)
    dilation = pair(fn, "dilation", dilation)
    _check_padding(fn, padding, kernel)
    out_size = _window_counts(fn, input.shape[-2:], kernel, stride, padding, dilation, bool(ceil_mode))
    x = _batch(input) if largest else -_batch(input)    # min pooling is -max_pool2d(-x): same picks
    result = MaxPool2d.apply(x, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                             out_size=out_size, return_indices=bool(return_indices))
    out, index = result if return_indices else (result, None)
    out = _unbatch(out if largest else -out, input)
    return (out, _unbatch(index, input)) if return_indices else out


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


# ---------------------------------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------------------------------

def _avg_divisors(size, out, kernel, stride, padding, count_include_pad):
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
        return backend.get_array_module(out).ascontiguousarray(out)   # NCHW: a following flatten is a view

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
    input = _check_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    stride = _stride(fn, stride, kernel)
    padding = pair(fn, "padding", padding, minimum=0)
    _check_padding(fn, padding, kernel)
    if divisor_override is not None and (
            not is_int(divisor_override)
            or divisor_override == 0):
        raise ValueError(f"{fn}: `divisor_override` must be None or a non-zero int. "
                         f"Received: divisor_override={divisor_override!r}")
    h, w = input.shape[-2:]
    oh, ow = _window_counts(fn, (h, w), kernel, stride, padding, (1, 1), bool(ceil_mode))
    if divisor_override is not None:
        divisor = np.full((oh, ow), float(divisor_override))
    else:
        dh = _avg_divisors(h, oh, kernel[0], stride[0], padding[0], count_include_pad)
        dw = _avg_divisors(w, ow, kernel[1], stride[1], padding[1], count_include_pad)
        divisor = (dh[:, None] * dw[None, :]).astype(np.float64)
    out = AvgPool2d.apply(_batch(input), kernel_size=kernel, stride=stride, padding=padding,
                          out_size=(oh, ow), divisor=divisor)
    return _unbatch(out, input)


# ---------------------------------------------------------------------------------------------------
# power-average (Lp) pooling
# ---------------------------------------------------------------------------------------------------

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
    if not is_real(norm_type) or math.isnan(norm_type):
        raise TypeError(f"{fn}: `norm_type` must be a real number p > 0 (or +-inf). "
                        f"Received: norm_type={norm_type!r}")
    if norm_type <= 0 and norm_type != -math.inf:
        raise ValueError(f"{fn}: `norm_type` must be positive (p > 0, or +-inf). Received: norm_type={norm_type!r}")
    input = _check_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    stride = _stride(fn, stride, kernel)
    _window_counts(fn, input.shape[-2:], kernel, stride, (0, 0), (1, 1), bool(ceil_mode))
    if norm_type == math.inf:
        return max_pool2d(input.abs(), kernel, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return min_pool2d(input.abs(), kernel, stride, 0, 1, ceil_mode)
    norm_type = float(norm_type)
    mean = avg_pool2d(input ** norm_type, kernel, stride, 0, ceil_mode)
    return LpRoot.apply(mean, norm_type=norm_type, scale=float(kernel[0] * kernel[1]))


# ---------------------------------------------------------------------------------------------------
# adaptive and global pooling
# ---------------------------------------------------------------------------------------------------

def _adaptive_output_size(fn, input, output_size):
    """(oH, oW) from an int, a pair, or a pair with None entries (keep that input size)."""
    h, w = input.shape[-2:]
    message = (f"{fn}: `output_size` must be a positive int or a pair of positive ints (None keeps the "
               f"input size). Received: output_size={output_size!r}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(message)
        sizes = [h if output_size[0] is None else output_size[0], w if output_size[1] is None else output_size[1]]
    else:
        sizes = [output_size, output_size]
    for s in sizes:
        if not is_int(s):
            raise (ValueError if isinstance(output_size, (tuple, list)) or s is None else TypeError)(message)
        if s < 1:
            raise ValueError(message)
    return int(sizes[0]), int(sizes[1])


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
            windows = _tile_view(x, (kh, kw), (oh, ow))                         # (N, C, oH, oW, kH, kW)
            taps_h = np.arange(oh)[:, None] * kh + np.arange(kh)[None, :]       # (oH, kH)
            taps_w = np.arange(ow)[:, None] * kw + np.arange(kw)[None, :]       # (oW, kW)
        else:
            taps_h, taps_w = _region_taps(h, oh), _region_taps(w, ow)           # (oH, kH), (oW, kW)
            kh, kw = taps_h.shape[1], taps_w.shape[1]
            t = xp.take(x, xp.asarray(taps_h.ravel()), axis=2)                 # (N, C, oH*kH, W)
            t = xp.take(t, xp.asarray(taps_w.ravel()), axis=3)                 # (N, C, oH*kH, oW*kW)
            windows = t.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5)  # (N, C, oH, oW, kH, kW)
        arg, out = _select(windows.reshape(n, c, oh, ow, kh * kw), True)       # (N, C, oH, oW)
        rows = xp.asarray(taps_h)[xp.arange(oh)[:, None], arg // kw]           # (N, C, oH, oW)
        cols = xp.asarray(taps_w)[xp.arange(ow)[None, :], arg % kw]
        index = rows * w + cols
        ctx.index, ctx.input_shape = index, x.shape
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g):
        return _route_back(g, ctx.index, ctx.input_shape)


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
    input = _check_input(fn, input)
    size = _adaptive_output_size(fn, input, output_size)
    return _unbatch(_adaptive_avg(_batch(input), size), input)


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
    input = _check_input(fn, input)
    size = _adaptive_output_size(fn, input, output_size)
    result = AdaptiveMaxPool2d.apply(_batch(input), output_size=size, return_indices=bool(return_indices))
    if return_indices:
        return _unbatch(result[0], input), _unbatch(result[1], input)
    return _unbatch(result, input)


def global_avg_pool2d(input):
    """Mean over each whole feature map (the head of NIN, GoogLeNet, ResNet).

    Shape:
        (N, C, H, W) -> (N, C, 1, 1); (C, H, W) -> (C, 1, 1).
    """
    fn = "global_avg_pool2d"
    input = _check_input(fn, input)
    return _unbatch(_adaptive_avg(_batch(input), (1, 1)), input)


def global_max_pool2d(input):
    """Max over each whole feature map; the gradient goes to its first arg-max.

    Shape:
        (N, C, H, W) -> (N, C, 1, 1); (C, H, W) -> (C, 1, 1).
    """
    fn = "global_max_pool2d"
    input = _check_input(fn, input)
    return _unbatch(AdaptiveMaxPool2d.apply(_batch(input), output_size=(1, 1)), input)


# ---------------------------------------------------------------------------------------------------
# subsampling
# ---------------------------------------------------------------------------------------------------

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
    input = _check_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    stride = _stride(fn, stride, kernel)
    out_size = _window_counts(fn, input.shape[-2:], kernel, stride, (0, 0), (1, 1), False)
    return _unbatch(Subsample2d.apply(_batch(input), stride=stride, out_size=out_size), input)


# ---------------------------------------------------------------------------------------------------
# stochastic pooling (Zeiler & Fergus 2013)
# ---------------------------------------------------------------------------------------------------

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
            for i, j in _taps(kernel_size):
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
        for k, (i, j) in enumerate(_taps(kernel_size)):
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
            return _route_back(g, ctx.index, ctx.input_shape, ctx.alive)
        xp = backend.get_array_module(g)
        x, out, safe, alive = ctx.saved_tensors
        (sh, sw), (oh, ow) = ctx.stride, out.shape[2:]
        windows = sliding_windows(x, ctx.kernel_size, ctx.stride, (1, 1), (oh, ow))  # (N, C, oH, oW, kH, kW)
        scale = xp.where(alive, g / safe, 0)
        gx = xp.zeros(x.shape, dtype=g.dtype)
        for i, j in _taps(ctx.kernel_size):  # d out / d a_ij = (2 a_ij - out) / sum(a), tap by tap
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
    input = _check_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    stride = _stride(fn, stride, kernel)
    out_size = _window_counts(fn, input.shape[-2:], kernel, stride, (0, 0), (1, 1), False)
    if generator is None:
        generator = backend.get_rng()
    elif not isinstance(generator, np.random.Generator):
        raise TypeError(f"{fn}: `generator` must be None or a numpy.random.Generator. "
                        f"Received an object of type {type(generator).__name__}")
    lowest = float(input._data.min()) if input.numel() else 0.0
    if not lowest >= 0:  # also catches NaN
        raise ValueError(f"{fn}: `input` must be non-negative (stochastic pooling samples in proportion to "
                         f"the activations, e.g. after a ReLU). Received a tensor with minimum {lowest}")
    out = StochasticPool2d.apply(_batch(input), kernel_size=kernel, stride=stride, out_size=out_size,
                                 training=bool(training), generator=generator)
    return _unbatch(out, input)


# ---------------------------------------------------------------------------------------------------
# fractional max pooling (Graham 2014)
# ---------------------------------------------------------------------------------------------------

def _fractional_starts(samples, size, out, kernel):
    """Window starts along one axis per plane, PyTorch's pseudo-random sequence.

    alpha = (size - kernel) / (out - 1); start_i = int((i + u) * alpha) - int(u * alpha) for i < out - 1,
    and the last window ends at the input's end. Computed in the samples' dtype, as PyTorch does, so
    float32 rounding truncates the same way.
    """
    dtype = samples.dtype.type
    starts = np.empty(samples.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dtype(size - kernel) / dtype(out - 1)
        i = np.arange(out - 1).astype(dtype)
        starts[..., :-1] = (((i + samples[..., None]) * alpha).astype(np.int64)
                            - (samples * alpha).astype(np.int64)[..., None])
    starts[..., -1] = size - kernel
    return starts


class FractionalMaxPool2d(Function):
    """Max over pseudo-random windows of fixed size; backward routes the gradient to each arg-max."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), out_size=(1, 1), samples=None, return_indices=False):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        (kh, kw), (oh, ow) = kernel_size, out_size
        # PyTorch uses samples[..., 0] for the width and samples[..., 1] for the height.
        start_h = _fractional_starts(samples[..., 1], h, oh, kh)                 # (N, C, oH)
        start_w = _fractional_starts(samples[..., 0], w, ow, kw)                 # (N, C, oW)
        # One flat gather: element (n, c, oh, ow, k) is x's plane (n, c) at the window's corner plus tap k.
        corner = xp.asarray(start_h[:, :, :, None] * w + start_w[:, :, None, :])  # (N, C, oH, oW) in-plane
        offset = xp.asarray((np.arange(kh)[:, None] * w + np.arange(kw)[None, :]).ravel())      # (kH*kW,)
        planes = xp.arange(n * c, dtype=corner.dtype).reshape(n, c, 1, 1) * (h * w)
        flat = xp.take(x.reshape(-1), (corner + planes)[..., None] + offset)     # (N, C, oH, oW, kH*kW)
        arg, out = _select(flat, True)                                           # (N, C, oH, oW)
        index = corner + offset[arg]
        ctx.index, ctx.input_shape = index, x.shape
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g):
        return _route_back(g, ctx.index, ctx.input_shape)


def _ratio_pair(fn, output_ratio):
    message = (f"{fn}: `output_ratio` must be a number or a pair of numbers strictly between 0 and 1. "
               f"Received: output_ratio={output_ratio!r}")
    ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio, output_ratio)
    if len(ratio) != 2 or not all(is_real(r) for r in ratio):
        raise (TypeError if not isinstance(output_ratio, (tuple, list)) else ValueError)(message)
    if not all(0 < r < 1 for r in ratio):
        raise ValueError(message)
    return float(ratio[0]), float(ratio[1])


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling (Graham 2014): max over pseudo-randomly placed windows that shrink the
    input by a non-integer factor (as ``torch.nn.functional.fractional_max_pool2d``).

    With the same ``_random_samples`` the windows, outputs and indices are PyTorch's exactly.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, int or (kH, kW).
        output_size: (oH, oW) or an int; give this or ``output_ratio``.
        output_ratio: oH / H and oW / W, in (0, 1); the size is int(H * ratio).
        return_indices: also return the flat index of each pick in its H*W plane.
        _random_samples: (N, C, 2) values in [0, 1) placing each plane's windows ([..., 0] for the width,
            [..., 1] for the height); drawn from cnnlab's generator when None.

    Shape:
        (N, C, H, W) -> (N, C, oH, oW), with oH + kH - 1 <= H and oW + kW - 1 <= W.
    """
    fn = "fractional_max_pool2d"
    input = _check_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    h, w = input.shape[-2:]
    if (output_size is None) == (output_ratio is None):
        raise ValueError(f"{fn}: give exactly one of `output_size` and `output_ratio`. "
                         f"Received: output_size={output_size!r}, output_ratio={output_ratio!r}")
    if output_size is not None:
        out = pair(fn, "output_size", output_size)
    else:
        ratio = _ratio_pair(fn, output_ratio)
        out = (int(h * ratio[0]), int(w * ratio[1]))
        if out[0] < 1 or out[1] < 1:
            raise ValueError(f"{fn}: output would be empty: input of size (H, W)={(h, w)} times "
                             f"output_ratio={output_ratio!r} gives output size {out}")
    for axis, o, k, s in (("height", out[0], kernel[0], h), ("width", out[1], kernel[1], w)):
        if o + k - 1 > s:
            raise ValueError(f"{fn}: output {axis} {o} with kernel {axis} {k} needs an input {axis} of at least "
                             f"output + kernel - 1 = {o + k - 1}. Received input of size (H, W)={(h, w)}, "
                             f"kernel_size={kernel}, output size {out}")
    x = _batch(input)
    n, c = x.shape[:2]
    dtype = np.dtype(input.dtype)
    if _random_samples is None:
        samples = backend.get_rng().random((n, c, 2), dtype=dtype.type)
    else:
        samples = backend.asnumpy(_random_samples._data if isinstance(_random_samples, Tensor) else _random_samples)
        if samples.ndim != 3 or samples.shape[0] < n or samples.shape[1:] != (c, 2):
            raise ValueError(f"{fn}: `_random_samples` must have shape (N, C, 2) = {(n, c, 2)} (or more rows). "
                             f"Received shape {samples.shape}")
        samples = samples[:n].astype(dtype)
        if not ((samples >= 0) & (samples < 1)).all():
            raise ValueError(f"{fn}: `_random_samples` must lie in [0, 1). Received values from "
                             f"{samples.min()} to {samples.max()}")
    result = FractionalMaxPool2d.apply(x, kernel_size=kernel, out_size=out, samples=samples,
                                       return_indices=bool(return_indices))
    if return_indices:
        return _unbatch(result[0], input), _unbatch(result[1], input)
    return _unbatch(result, input)
