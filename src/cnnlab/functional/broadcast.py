"""``expand``, ``repeat`` and ``masked_fill`` with their gradients (PyTorch's semantics)."""

import numbers

import numpy as np

from .. import backend
from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from ..validation import is_int


class Expand(Function):
    """A broadcast view; the gradient sums over the broadcast axes."""

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return backend.get_array_module(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


class Repeat(Function):
    """Tile the input ``repeats[i]`` times along axis i; the gradient sums the tiles."""

    @staticmethod
    def forward(ctx, a, repeats=()):
        shape = (1,) * (len(repeats) - a.ndim) + a.shape
        ctx.in_shape, ctx.shape, ctx.repeats = a.shape, shape, repeats
        return backend.get_array_module(a).tile(a.reshape(shape), repeats)

    @staticmethod
    def backward(ctx, g):
        # (r0*s0, r1*s1, ...) -> (r0, s0, r1, s1, ...): the tiles sit on the even axes.
        split = [n for pair in zip(ctx.repeats, ctx.shape) for n in pair]
        tiles = tuple(range(0, 2 * len(ctx.shape), 2))
        return g.reshape(split).sum(axis=tiles).reshape(ctx.in_shape)


class MaskedFill(Function):
    """``value`` where ``mask`` is True, the input elsewhere; ``value`` may be a 0-d tensor."""

    @staticmethod
    def forward(ctx, a, value, mask=None):
        xp = backend.get_array_module(a)
        ctx.mask = xp.broadcast_to(mask, a.shape)
        return xp.where(ctx.mask, xp.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        grad_a = xp.where(ctx.mask, zero, g) if ctx.needs_input_grad[0] else None
        grad_value = xp.where(ctx.mask, g, zero).sum() if ctx.needs_input_grad[1] else None
        return grad_a, grad_value


def _sizes(fn, sizes):
    if not sizes:
        raise TypeError(f"{fn}: `sizes` is required (one per dimension, as PyTorch). "
                        f"Received none")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(is_int(n) for n in sizes):
        raise TypeError(f"{fn}: `sizes` must be ints. Received: sizes={sizes!r}")
    return tuple(int(n) for n in sizes)


def expand(input, *sizes):
    """A view of ``input`` broadcast to ``sizes``; -1 keeps a dimension, new dimensions go in front.

    Shape: ``(1, W) -> expand(H, W) -> (H, W)``. No data is copied.
    """
    sizes = _sizes("expand", sizes)
    extra = len(sizes) - input.ndim
    if extra < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                         f"tensor's number of dimensions ({input.ndim}). Received: sizes={sizes}")
    shape = []
    for i, n in enumerate(sizes):
        old = input.shape[i - extra] if i >= extra else None
        if n == -1 and old is not None:
            n = old
        if old is None and n < 0:
            raise ValueError(f"expand: size {n} is not allowed for the new leading dimension {i} "
                             f"(-1 keeps an existing dimension only). Received: sizes={sizes}")
        if n < 0 or (old is not None and old != 1 and old != n):
            raise ValueError(f"expand: size {n} at dimension {i} does not fit the tensor's size "
                             f"{old} there (only size-1 dimensions expand; -1 keeps one). "
                             f"Received: sizes={sizes} for shape {input.shape}")
        shape.append(n)
    return Expand.apply(input, shape=tuple(shape))


def repeat(input, *sizes):
    """Tile ``input``: ``sizes[i]`` copies along dimension i (extra sizes add leading dimensions).

    Shape: ``(C, W) -> repeat(a, b, c) -> (a, b*C, c*W)``.
    """
    sizes = _sizes("repeat", sizes)
    if len(sizes) < input.ndim or any(n < 0 for n in sizes):
        raise ValueError(f"repeat: `sizes` must hold a non-negative count for each of the tensor's "
                         f"{input.ndim} dimensions (or more). Received: sizes={sizes}")
    return Repeat.apply(input, repeats=sizes)


def masked_fill(input, mask, value):
    """``value`` where the boolean ``mask`` is True, else input; mask and input broadcast together.

    As PyTorch's out-of-place ``masked_fill``, the result has their common shape (a (2, 3) mask
    over a (3,) input gives (2, 3)); the input's gradient is summed back over the broadcast.
    """
    mask_data = mask._data if isinstance(mask, Tensor) else mask
    if getattr(mask_data, "dtype", None) is None or mask_data.dtype.kind != "b":
        kind = getattr(mask_data, "dtype", type(mask).__name__)
        raise TypeError(f"masked_fill: `mask` must be a boolean tensor. "
                        f"Received a mask of dtype {kind}")
    try:
        # shape arithmetic only, so NumPy's helper serves CuPy masks too
        shape = np.broadcast_shapes(mask_data.shape, input.shape)
    except ValueError:
        raise ValueError(f"masked_fill: `mask` of shape {tuple(mask_data.shape)} does not "
                         f"broadcast with the input's shape {input.shape}") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: a tensor `value` must be 0-dimensional. "
                             f"Received a tensor of shape {value.shape}")
    elif not isinstance(value, numbers.Number):
        raise TypeError(f"masked_fill: `value` must be a number or a 0-d tensor. "
                        f"Received: value={value!r}")
    if shape != input.shape:
        input = expand(input, *shape)
    return MaskedFill.apply(input, value, mask=mask_data)
