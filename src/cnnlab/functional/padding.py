"""Padding of the last two axes (H, W): constant, reflect, replicate and circular, with gradients.

Every mode is a map from each padded position to the input position it copies (or to "the constant").
Forward gathers along each axis with that map; backward sends each gradient back to the position it was
copied from: the interior is a plain slice, and the few border rows/columns are added in with a small
0/1 matrix product per side (no scatter, no loop over pixels). Negative padding crops, as in PyTorch.
"""

import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..validation import is_int, tensor_arg
from ._checks import check_pad_sizes

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _axis_plan(n, before, after, mode):
    """How one axis of length ``n`` is padded by ``before``/``after`` (negative values crop).

    Returns ``(source, start, length, offset)``: ``source[i]`` is the input index that padded position
    ``i`` copies (-1 for a constant cell); positions ``offset .. offset+length-1`` copy the input
    slice ``start .. start+length-1`` unchanged (the interior); all other positions are border.
    """
    size = n + before + after
    if mode == "circular":
        # PyTorch crops first, then wraps around the cropped axis.
        lo, hi = max(0, -before), n - max(0, -after)
        m = hi - lo
        left = max(before, 0)
        pos = np.arange(size) - left
        source = lo + (pos % m if m > 0 else pos)
        return source, lo, max(m, 0), left
    pos = np.arange(size) - before  # position in input coordinates (outside [0, n) means padding)
    if mode == "reflect":
        # Mirror about 0 and n-1 without repeating the edge: ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ...
        r = np.abs(pos)
        source = (n - 1) - np.abs((n - 1) - r)
    elif mode == "replicate":
        source = np.clip(pos, 0, n - 1)
    else:  # constant
        source = np.where((pos >= 0) & (pos < n), pos, -1)
    start = max(0, -before)
    offset = max(0, before)
    length = max(0, min(n, n + after) - start)
    length = min(length, max(0, size - offset))
    return source, start, length, offset


def _border_matrix(source, positions, col0, col1, dtype, xp):
    """0/1 matrix (len(positions), col1 - col0): row j has a 1 in the column its position copies."""
    m = np.zeros((len(positions), col1 - col0), dtype=dtype)
    m[np.arange(len(positions)), source[positions] - col0] = 1
    return xp.asarray(m)


def _axis_backward(g, axis, n, plan, mode):
    """Gradient of one axis' padding: the interior slice plus the border strips folded back."""
    xp = backend.get_array_module(g)
    source, start, length, offset = plan
    g = xp.moveaxis(g, axis, -1)                                   # (..., padded)
    out = xp.zeros(g.shape[:-1] + (n,), dtype=g.dtype)             # (..., n)
    out[..., start:start + length] = g[..., offset:offset + length]
    if mode != "constant":
        size = g.shape[-1]
        for lo, hi in ((0, min(offset, size)), (offset + length, size)):  # the two border strips
            if hi <= lo:
                continue
            positions = np.arange(lo, hi)
            col0, col1 = int(source[positions].min()), int(source[positions].max()) + 1
            m = _border_matrix(source, positions, col0, col1, g.dtype, xp)
            out[..., col0:col1] += g[..., lo:hi] @ m               # (..., strip) @ (strip, cols)
    return xp.moveaxis(out, -1, axis)


def pad_array(x, pads, mode="constant", value=0.0):
    """Pad the last two axes of a raw array: ``pads = ((top, bottom), (left, right))``.

    Arguments are not checked here (the public ops check them); negative amounts crop.
    ``mode`` is one of ``PAD_MODES``; ``value`` fills constant padding.
    """
    xp = backend.get_array_module(x)
    (top, bottom), (left, right) = pads
    if mode == "constant":
        h, w = x.shape[-2:]
        x = x[..., max(0, -top):h - max(0, -bottom), max(0, -left):w - max(0, -right)]
        widths = [(0, 0)] * (x.ndim - 2) + [(max(0, top), max(0, bottom)), (max(0, left), max(0, right))]
        return xp.pad(x, widths, mode="constant", constant_values=0.0 if value is None else value)
    for axis, (before, after) in ((-2, (top, bottom)), (-1, (left, right))):
        if before == 0 and after == 0:
            continue
        source, _, _, _ = _axis_plan(x.shape[axis], before, after, mode)
        x = xp.take(x, xp.asarray(source), axis=axis)
    return x


def pad_array_backward(grad, input_shape, pads, mode="constant"):
    """Gradient of ``pad_array`` with respect to its input, for an upstream ``grad``.

    Each padded cell's gradient goes back to the input cell it copied; constant cells drop theirs.
    """
    (top, bottom), (left, right) = pads
    h, w = input_shape[-2:]
    for axis, n, (before, after) in ((-2, h, (top, bottom)), (-1, w, (left, right))):
        if before == 0 and after == 0:
            continue
        grad = _axis_backward(grad, axis, n, _axis_plan(n, before, after, mode), mode)
    return grad


class Pad(Function):
    """Pad the last two axes; backward folds the border gradients back onto the cells they copied."""

    @staticmethod
    def forward(ctx, x, pads=((0, 0), (0, 0)), mode="constant", value=0.0):
        ctx.input_shape, ctx.pads, ctx.mode = x.shape, pads, mode
        return pad_array(x, pads, mode, value)

    @staticmethod
    def backward(ctx, g):
        return pad_array_backward(g, ctx.input_shape, ctx.pads, ctx.mode)


def pad(input, pad, mode="constant", value=None):
    """Pad the last two dimensions of ``input``, as ``torch.nn.functional.pad`` does for images.

    Args:
        input: tensor with at least 2 dimensions, usually (N, C, H, W) or (C, H, W).
        pad: ``(left, right)`` to pad the last dimension (W) only, or ``(left, right, top, bottom)``:
            last dimension first, as in PyTorch. Negative amounts crop.
        mode: ``"constant"`` (fill with ``value``), ``"reflect"`` (mirror without repeating the edge,
            each amount < the size on its axis), ``"replicate"`` (repeat the edge) or ``"circular"``
            (wrap around, each amount <= the size on its axis).
        value: fill value for ``"constant"`` (default 0); not allowed with other modes.

    Shape:
        (..., H, W) -> (..., H + top + bottom, W + left + right)

    NOTE: PyTorch rejects a 2-tuple with a 4-D input in the non-constant modes; here a 2-tuple always
    pads only the width, in every mode.

    Example:
        >>> x = cnnlab.tensor([[[[0.0, 1.0, 2.0]]]])             # (1, 1, 1, 3)
        >>> pad(x, (2, 1), mode="reflect").numpy().ravel()
        array([2., 1., 0., 1., 2., 1.], dtype=float32)
    """
    input = tensor_arg("pad", "input", input)
    if input.ndim < 2:
        raise ValueError(f"pad: `input` must have at least 2 dimensions (..., H, W). "
                         f"Received a {input.ndim}-D tensor of shape {input.shape}")
    if not (isinstance(pad, (tuple, list)) and len(pad) in (2, 4)
            and all(is_int(p) for p in pad)):
        raise ValueError(f"pad: `pad` must be a tuple of 2 ints (left, right) or 4 ints (left, right, top, bottom). "
                         f"Received: pad={pad!r}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad: `mode` must be one of {', '.join(repr(m) for m in PAD_MODES)}. Received: mode={mode!r}")
    if mode != "constant" and value is not None:
        raise ValueError(f"pad: `value` is only used with mode='constant'. Received: mode={mode!r}, value={value!r}")
    if value is not None and not isinstance(value, numbers.Real):
        raise TypeError(f"pad: `value` must be a number. Received: value={value!r}")
    p = [int(v) for v in pad] + [0, 0]
    pads = ((p[2], p[3]), (p[0], p[1]))
    check_pad_sizes("pad", "pad", tuple(pad), input.shape, pads, mode)
    return Pad.apply(input, pads=pads, mode=mode, value=0.0 if value is None else value)
