"""Argument checks of the convolution, padding, resizing and pooling ops.

Each op calls one or two of these first, so its own body shows the computation. They speak
``cnnlab.validation``'s vocabulary (op, argument, what was received, what was expected) and live here,
not there, because they need the ops' shape arithmetic (``sizes``) and their notion of a batch.
"""

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import (INTERPOLATE_MODES, choice, floating, int_arg, is_int, is_real, padding_mode_arg,
                          padding_pairs, pair, tensor_arg, tensor_like)
from .sizes import conv_transpose_output_size, output_size


# --------------------------------------------------------------------------------------- convolution
def conv2d_args(input, weight, bias, stride, padding, dilation, groups, padding_mode):
    """``conv2d``'s arguments checked: (input, weight, bias, stride, pads, dilation) normalised."""
    fn = "conv2d"
    input = tensor_arg(fn, "input", input, ndim=(3, 4), shape_hint="(N, C, H, W) or unbatched (C, H, W)")
    weight = tensor_arg(fn, "weight", weight, ndim=4, shape_hint="(out_channels, in_channels/groups, kH, kW)")
    _same_floating(fn, input, weight)
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{fn}: `groups` must be a positive int. Received: groups={groups!r}")
    _conv2d_channels(fn, input, weight, groups)
    if bias is not None:
        bias = _conv2d_bias(fn, bias, input, weight)
    stride = pair(fn, "stride", stride, minimum=1)
    dilation = pair(fn, "dilation", dilation, minimum=1)
    padding_mode_arg(fn, padding_mode)
    pads = padding_pairs(fn, padding, weight.shape[2:], stride, dilation)
    if padding_mode != "zeros":
        check_pad_sizes(fn, "padding", padding if isinstance(padding, str) else pads, input.shape, pads,
                        padding_mode)
    _kernel_fits(fn, input, weight, pads, dilation)
    return input, weight, bias, stride, pads, dilation


def _same_floating(fn, input, weight):
    floating(fn, "input", input)
    floating(fn, "weight", weight)
    if input.dtype != weight.dtype:
        raise TypeError(f"{fn}: `input` and `weight` must have the same dtype. Received input {input.dtype} "
                        f"and weight {weight.dtype}")


def _conv2d_channels(fn, input, weight, groups):
    """The weight has no empty axis and its channels match the input's, group by group."""
    o, cg = weight.shape[:2]
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


def _conv2d_bias(fn, bias, input, weight):
    """One bias per output channel, in the weight's dtype."""
    return tensor_like(fn, "bias", bias, weight.shape[:1], weight.dtype, "weight's",
                       f", one value per output channel (input shape {input.shape}, weight shape {weight.shape})")


def _kernel_fits(fn, input, weight, pads, dilation):
    """The dilated kernel is no larger than the padded input."""
    kh, kw = weight.shape[2:]
    h, w = input.shape[-2:]
    hp, wp = h + sum(pads[0]), w + sum(pads[1])
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if span_h > hp or span_w > wp:
        raise ValueError(f"{fn}: the kernel is larger than the padded input: kernel {kh}x{kw} with dilation "
                         f"{dilation} spans {span_h}x{span_w}, but the input {h}x{w} padded by {pads} is "
                         f"{hp}x{wp} (input shape {input.shape}, weight shape {weight.shape})")


def conv_transpose2d_args(input, weight, bias, stride, padding, output_padding, groups, dilation):
    """``conv_transpose2d``'s arguments checked and normalised.

    Returns (input as (N, C_in, H, W), whether it was unbatched, weight, bias, stride, padding,
    dilation, groups, output size (H_out, W_out)).
    """
    fn = "conv_transpose2d"
    input = tensor_arg(fn, "input", input, ndim=(3, 4), shape_hint="(N, C_in, H, W) or unbatched "
                                                                   "(C_in, H, W)")
    weight = tensor_arg(fn, "weight", weight, ndim=4, shape_hint="(C_in, C_out/groups, kH, kW)")
    _same_floating(fn, input, weight)
    stride = pair(fn, "stride", stride)
    padding = pair(fn, "padding", padding, minimum=0)
    output_padding = pair(fn, "output_padding", output_padding, minimum=0)
    dilation = pair(fn, "dilation", dilation)
    groups = int_arg(fn, "groups", groups, minimum=1)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{fn}: `output_padding` must be smaller than `stride` or `dilation`. "
                             f"Received: output_padding={output_padding}, stride={stride}, "
                             f"dilation={dilation}")
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    _conv_transpose2d_channels(fn, input, weight, groups)
    if bias is not None:
        bias = tensor_like(fn, "bias", bias, (weight.shape[1] * groups,),
                           why=f" for weight shape {weight.shape} and groups={groups}")
    kernel = weight.shape[2:]
    out_size = tuple(conv_transpose_output_size(n, k, s, p, op, d) for n, k, s, p, op, d in
                     zip(input.shape[-2:], kernel, stride, padding, output_padding, dilation))
    if min(out_size) < 1:
        raise ValueError(f"{fn}: the output would be {out_size[0]}x{out_size[1]} for input size "
                         f"{input.shape[-2:]}, kernel {tuple(kernel)}, stride {stride}, padding "
                         f"{padding}, "
                         f"dilation {dilation}; expected a positive size (use less padding)")
    return input, unbatched, weight, bias, stride, padding, dilation, groups, out_size


def _conv_transpose2d_channels(fn, input, weight, groups):
    c_in = weight.shape[0]
    if input.shape[1] != c_in:
        raise ValueError(f"{fn}: input has {input.shape[1]} channels but weight expects {c_in} "
                         f"(input shape {input.shape}, weight shape {weight.shape})")
    if c_in % groups:
        raise ValueError(f"{fn}: the weight's {c_in} input channels are not divisible by "
                         f"groups={groups}")


# ------------------------------------------------------------------------------------------- padding
def check_pad_sizes(fn, arg, shown, input_shape, pads, mode):
    """Raise the PyTorch limits of each mode with a message naming ``fn`` and ``arg=shown``.

    reflect: each amount < the input size on its axis; circular: each amount <= the (cropped) size;
    replicate: a non-empty axis; every mode: the padded size must not be negative.
    """
    for axis_name, n, (before, after) in (("height", input_shape[-2], pads[0]), ("width", input_shape[-1], pads[1])):
        where = f"Received: {arg}={shown} for input {axis_name} {n} (input shape {tuple(input_shape)})"
        if mode in ("constant", "circular") and (before < -n or after < -n):
            raise ValueError(f"{fn}: negative `{arg}` may crop at most the whole {axis_name} ({n}). {where}")
        if n + before + after < 0:
            raise ValueError(f"{fn}: negative `{arg}` crops more than the input has: padded {axis_name} would be "
                             f"{n + before + after}. {where}")
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"{fn}: reflect padding must be smaller than the input size on that axis "
                             f"(at most {n - 1} for {axis_name} {n}). {where}")
        if mode == "replicate" and n == 0 and (before > 0 or after > 0):
            raise ValueError(f"{fn}: replicate padding needs a non-empty axis. {where}")
        if mode == "circular":
            m = n - max(0, -before) - max(0, -after)
            if max(before, 0) > m or max(after, 0) > m:
                raise ValueError(f"{fn}: circular padding must be at most the (cropped) input size on that axis "
                                 f"({max(m, 0)} for {axis_name} {n}): it may wrap around only once. {where}")


# ------------------------------------------------------------------------------------------ resizing
def interpolate_args(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """``interpolate``'s arguments checked: (input, (H_out, W_out), per-axis scale factors or None)."""
    fn = "interpolate"
    input = tensor_arg(fn, "input", input, ndim=4, shape_hint="(N, C, H, W)")
    floating(fn, "input", input)
    choice(fn, "mode", mode, INTERPOLATE_MODES)
    if align_corners is not None and mode != "bilinear":
        raise ValueError(f"{fn}: `align_corners` can only be set with mode='bilinear'. "
                         f"Received: align_corners={align_corners!r} with mode={mode!r}")
    if antialias:
        raise ValueError(f"{fn}: antialias=True is not supported. "
                         f"Received: antialias={antialias!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: exactly one of `size` and `scale_factor` must be given. "
                         f"Received: size={size!r}, scale_factor={scale_factor!r}")
    if recompute_scale_factor and size is not None:
        raise ValueError(f"{fn}: `recompute_scale_factor` is not meaningful with an explicit "
                         f"`size`. Received: size={size!r}, "
                         f"recompute_scale_factor={recompute_scale_factor!r}")
    if size is not None:
        return input, _positive_pair(fn, "size", size, is_int), (None, None)  # scale from the sizes
    in_size = input.shape[-2:]
    factors = tuple(float(f) for f in _positive_pair(fn, "scale_factor", scale_factor, is_real))
    out_size = tuple(int(math.floor(n * f)) for n, f in zip(in_size, factors))
    if min(out_size) < 1:
        raise ValueError(f"{fn}: scale_factor={scale_factor!r} shrinks the input size "
                         f"{in_size} to "
                         f"{out_size}; expected at least 1x1")
    return input, out_size, (None, None) if recompute_scale_factor else factors


def _positive_pair(fn, name, value, kind):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(kind(v) and v > 0 for v in items)
    if not ok:
        what = "positive int" if kind is is_int else "positive number"
        raise ValueError(f"{fn}: `{name}` must be a {what} or a pair of them. Received: "
                         f"{name}={value!r}")
    return items


# ------------------------------------------------------------------------------------------- pooling
def pool_input(fn, input):
    """A floating 4-D (N, C, H, W) or 3-D (C, H, W) tensor with non-empty C, H and W."""
    input = tensor_arg(fn, "input", input, ndim=(3, 4), shape_hint="(N, C, H, W) or unbatched (C, H, W)")
    floating(fn, "input", input)
    if 0 in input.shape[-3:]:
        raise ValueError(f"{fn}: `input` must have non-zero channels, height and width. "
                         f"Received a tensor of shape {input.shape}")
    return input


def pool_args(fn, input, kernel_size, stride, padding=0, dilation=1, ceil_mode=False, divisor_override=None):
    """A windowed pool's arguments checked: (input, kernel, stride, padding, dilation, (oH, oW)).

    ``stride`` None (or empty) is ``kernel_size``, PyTorch's default.
    """
    input = pool_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    else:
        stride = pair(fn, "stride", stride)
    padding = pair(fn, "padding", padding, minimum=0)
    dilation = pair(fn, "dilation", dilation)
    # PyTorch's rule: padding <= kernel_size // 2 (whatever the dilation), so no window is all padding.
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{fn}: `padding` must be at most half of the kernel size (kernel_size // 2). "
            f"Received: padding={padding} with kernel_size={kernel}")
    if divisor_override is not None and (not is_int(divisor_override) or divisor_override == 0):
        raise ValueError(f"{fn}: `divisor_override` must be None or a non-zero int. "
                         f"Received: divisor_override={divisor_override!r}")
    out_size = _window_counts(fn, input.shape[-2:], kernel, stride, padding, dilation, bool(ceil_mode))
    return input, kernel, stride, padding, dilation, out_size


def _window_counts(fn, shape, kernel, stride, padding, dilation, ceil_mode):
    """Output (oH, oW), raising a clear error when no window fits."""
    h, w = shape
    oh = output_size(h, kernel[0], stride[0], dilation[0], 2 * padding[0], ceil_mode)
    ow = output_size(w, kernel[1], stride[1], dilation[1], 2 * padding[1], ceil_mode)
    if oh < 1 or ow < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        pad = f" with padding={padding}" if padding != (0, 0) else ""
        dil = f", dilation={dilation}" if dilation != (1, 1) else ""
        raise ValueError(
            f"{fn}: output would be empty: input of size (H, W)={shape}{pad} is smaller than the kernel "
            f"(kernel_size={kernel}{dil}, spanning {span}). Expected H + 2 * padding >= dilation * "
            f"(kernel_size - 1) + 1 in each dimension")
    return oh, ow


def lp_norm_type(fn, norm_type):
    """Lp pooling's p: a real number > 0, or +-inf."""
    if not is_real(norm_type) or math.isnan(norm_type):
        raise TypeError(f"{fn}: `norm_type` must be a real number p > 0 (or +-inf). "
                        f"Received: norm_type={norm_type!r}")
    if norm_type <= 0 and norm_type != -math.inf:
        raise ValueError(f"{fn}: `norm_type` must be positive (p > 0, or +-inf). Received: norm_type={norm_type!r}")
    return norm_type


def adaptive_output_size(fn, input, output_size):
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


def stochastic_pool_args(fn, input, generator):
    """Stochastic pooling's generator (cnnlab's when None), checking ``input`` is non-negative."""
    if generator is None:
        generator = backend.get_rng()
    elif not isinstance(generator, np.random.Generator):
        raise TypeError(f"{fn}: `generator` must be None or a numpy.random.Generator. "
                        f"Received an object of type {type(generator).__name__}")
    lowest = float(input._data.min()) if input.numel() else 0.0
    if not lowest >= 0:  # also catches NaN
        raise ValueError(f"{fn}: `input` must be non-negative (stochastic pooling samples in proportion to "
                         f"the activations, e.g. after a ReLU). Received a tensor with minimum {lowest}")
    return generator


def fractional_output_size(fn, input, kernel, output_size, output_ratio):
    """Fractional max pooling's (oH, oW), from ``output_size`` or ``output_ratio``, checked to fit."""
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
    return out


def _ratio_pair(fn, output_ratio):
    message = (f"{fn}: `output_ratio` must be a number or a pair of numbers strictly between 0 and 1. "
               f"Received: output_ratio={output_ratio!r}")
    ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio, output_ratio)
    if len(ratio) != 2 or not all(is_real(r) for r in ratio):
        raise (TypeError if not isinstance(output_ratio, (tuple, list)) else ValueError)(message)
    if not all(0 < r < 1 for r in ratio):
        raise ValueError(message)
    return float(ratio[0]), float(ratio[1])


def fractional_samples(fn, samples, n, c, dtype):
    """Given ``_random_samples`` as a NumPy (n, c, 2) array in ``dtype``, checked to lie in [0, 1)."""
    samples = backend.asnumpy(samples._data if isinstance(samples, Tensor) else samples)
    if samples.ndim != 3 or samples.shape[0] < n or samples.shape[1:] != (c, 2):
        raise ValueError(f"{fn}: `_random_samples` must have shape (N, C, 2) = {(n, c, 2)} (or more rows). "
                         f"Received shape {samples.shape}")
    samples = samples[:n].astype(dtype)
    if not ((samples >= 0) & (samples < 1)).all():
        raise ValueError(f"{fn}: `_random_samples` must lie in [0, 1). Received values from "
                         f"{samples.min()} to {samples.max()}")
    return samples
