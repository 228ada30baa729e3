"""2-D convolution (cross-correlation, as in every deep learning library) and its shape arithmetic.

``conv2d`` has its arguments checked and the padding worked out (``_checks.conv2d_args``); ``Conv2d``
keeps forward and backward side by side; the sums themselves are computed by ``kernels`` (the
lectures' im2col form in ``kernels.reference.conv``, Numba loops in ``kernels.compiled.conv``):
    forward     = im2col columns of the zero-padded input @ kernels (+ bias);
    grad input  = "full" correlation of the stride-dilated output gradient with the 180-degree
                  rotated kernel (in/out channels swapped), cropped to the input;
    grad weight = output gradient^T @ the same columns;
    grad bias   = sum of the output gradient over N, H, W.
Padding modes other than zeros pad the input first (``pad_array``) and fold the padded input's
gradient back (``pad_array_backward``).
"""

from dataclasses import dataclass

from .. import backend, kernels
from ..autograd import Function
from ..validation import padding_pairs, pair
from ._checks import conv2d_args
from .padding import pad_array, pad_array_backward
from .sizes import output_size

NO_PADDING = ((0, 0), (0, 0))


class Conv2d(Function):
    """Cross-correlation of (N, C, H, W) with (O, C/G, kH, kW), plus an optional bias per output channel.

    The output has the (N, O, oH, oW) shape; the compiled kernels may return it as a view of
    channels-last memory, which every op accepts.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), pads=NO_PADDING, dilation=(1, 1), groups=1,
                padding_mode="zeros"):
        ctx.unbatched = x.ndim == 3
        if ctx.unbatched:
            x = x[None]                                                  # (C, H, W) -> (1, C, H, W)
        ctx.input_shape = x.shape
        zero_pads = pads
        if padding_mode != "zeros":
            if pads != NO_PADDING:                                       # reflect/replicate/circular
                x = pad_array(x, pads, padding_mode, 0.0)                # (N, C, Hp, Wp)
            zero_pads = NO_PADDING
        out = kernels.for_arrays(x, weight).conv2d_forward(x, weight, bias, zero_pads, stride, dilation,
                                                           groups)      # (N, O, oH, oW)
        ctx.save_for_backward(x, weight)
        ctx.pads, ctx.zero_pads, ctx.stride, ctx.dilation = pads, zero_pads, stride, dilation
        ctx.groups, ctx.padding_mode = groups, padding_mode
        return out[0] if ctx.unbatched else out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        if ctx.unbatched:
            grad = grad[None]                                            # (O, oH, oW) -> (1, O, oH, oW)
        args = (ctx.zero_pads, ctx.stride, ctx.dilation, ctx.groups)
        k = kernels.for_arrays(grad, x, weight)
        gx, gw, gb = k.conv2d_backward(grad, x, weight, ctx.needs_input_grad, *args)
        if gx is not None:                                               # of what was convolved
            if ctx.padding_mode != "zeros" and ctx.pads != NO_PADDING:
                gx = pad_array_backward(gx, ctx.input_shape, ctx.pads, ctx.padding_mode)
            if ctx.unbatched:
                gx = gx[0]
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
    input, weight, bias, stride, pads, dilation = conv2d_args(input, weight, bias, stride, padding, dilation,
                                                              groups, padding_mode)
    if input.ndim == 4 and input.shape[0] == 0:
        # An empty batch gives an empty (0, O, oH, oW) output, as PyTorch: convolve one zero image
        # and keep none of it; the zero-sized term connects `input` to its (empty) gradient.
        xp = backend.get_array_module(input._data)
        one = type(input)(xp.zeros((1, *input.shape[1:]), input.dtype))
        out = Conv2d.apply(one, weight, bias, stride=stride, pads=pads, dilation=dilation,
                           groups=groups, padding_mode=padding_mode)[:0]
        return out + input.sum() * 0 if input.requires_grad else out
    return Conv2d.apply(input, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=groups,
                        padding_mode=padding_mode)


def conv2d_batch_norm(input, weight, bias, stride, padding, dilation, groups, running_mean, running_var,
                      bn_weight, bn_bias, eps, relu=False):
    """Inference only: ``batch_norm(conv2d(...))`` with running statistics (then ``relu`` when asked),
    as one op: the compiled kernels write the normalised values with the convolution's output, and
    give the values of the two ops one after the other. Records no gradient (``nn.fusion`` calls it
    when none is recorded); the batch norm's arguments are a module's, checked at its making.
    """
    if backend.recording():
        raise RuntimeError("conv2d_batch_norm: computes no gradient; call it under cnnlab.no_grad(), or "
                           "conv2d then batch_norm")
    input, weight, bias, stride, pads, dilation = conv2d_args(input, weight, bias, stride, padding, dilation,
                                                              groups, "zeros")
    raw = (None if t is None else t._data for t in (bias, bn_weight, bn_bias, running_mean, running_var))
    bias, bn_weight, bn_bias, running_mean, running_var = raw
    x = input._data if input.ndim == 4 else input._data[None]
    empty = x.shape[0] == 0          # as conv2d: one zero image convolved, none of it kept
    if empty:
        x = backend.get_array_module(x).zeros((1, *x.shape[1:]), x.dtype)
    out = kernels.for_arrays(x, weight._data).conv2d_batch_norm_forward(
        x, weight._data, bias, pads, stride, dilation, groups, bn_weight, bn_bias, running_mean, running_var,
        float(eps), bool(relu))
    return type(input)._wrap(out[:0] if empty else out if input.ndim == 4 else out[0])


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
    text = f"{_fit_header(size, kernel, stride, padding, totals, dilation)}: {_fit_verdict(axes, totals)}"
    text += _skipped_note(kernel, stride, dilation, outputs)
    if is_pair:
        return FitReport(fits, outputs, leftovers, text)
    return FitReport(fits, outputs[0], leftovers[0], text)


def _show(v):
    """A pair as one number when both axes agree: 3, else (3, 2)."""
    return f"{v[0]}" if v[0] == v[1] else f"({v[0]}, {v[1]})"


def _fit_header(size, kernel, stride, padding, totals, dilation):
    header = f"{size[0]}x{size[1]} input, {kernel[0]}x{kernel[1]} kernel, stride {_show(stride)}"
    if totals != (0, 0):
        header += f", padding {_show(padding)}"
    if dilation != (1, 1):
        header += f", dilation {_show(dilation)}"
    return header


def _uncovered(axis, unit):
    """'the last 2 row(s) (1 of them padding)' for one axis' ``_explain_axis`` tuple, None if all covered."""
    _, _, leftover, _, pad_cells = axis
    if leftover == 0:
        return None
    text = f"the last {leftover} {unit}(s)"
    if pad_cells == leftover:
        text += " (all padding: no input pixel is lost)"
    elif pad_cells:
        text += f" ({pad_cells} of them padding)"
    return text


def _fit_verdict(axes, totals):
    """'fits: ...' or 'does not fit: ...', with the formula of each axis and what is left over."""
    outputs = tuple(a[1] for a in axes)
    same_axes = axes[0] == axes[1] and totals[0] == totals[1]
    detail = axes[0][3] if same_axes else f"height: {axes[0][3]}; width: {axes[1][3]}"
    if any(o == 0 for o in outputs):
        return f"does not fit: {detail}; there is no output."
    if all(a[0] for a in axes):
        return (f"fits: {detail}, so the output is {outputs[0]}x{outputs[1]} and the last window ends "
                f"exactly on the last row and column.")
    parts = [p for p in (_uncovered(axes[0], "row"), _uncovered(axes[1], "column")) if p]
    where = "padded input" if totals != (0, 0) else "input"
    return (f"does not fit: {detail}, so the output is {outputs[0]}x{outputs[1]} (rounded down) and "
            f"{' and '.join(parts)} of the {where} are never covered by any window.")


def _skipped_note(kernel, stride, dilation, outputs):
    """A sentence on the rows/columns between windows when the stride exceeds the kernel span, else ''."""
    skipped = []
    for axis, unit in ((0, "row"), (1, "column")):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if stride[axis] > span and outputs[axis] > 1:
            skipped.append(f"{stride[axis] - span} {unit}(s)")
    if not skipped:
        return ""
    return (f" Note: the stride is larger than the kernel span, so {' and '.join(skipped)} between "
            f"neighbouring windows are skipped too.")
