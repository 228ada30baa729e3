"""``max``/``min`` along one dim with the indices (PyTorch's ``(values, indices)``), arg-max/min."""

import builtins
from collections import namedtuple

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..validation import is_int, normalize_dim
from .reduce import check_nonempty

# The named pairs PyTorch returns (``torch.return_types.max``): unpack them or use the fields.
max_result = namedtuple("max", ("values", "indices"))
min_result = namedtuple("min", ("values", "indices"))


class ExtremeAlong(Function):
    """Max or min along ``axis``; the gradient goes to the returned index only (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, axis=0, keepdim=False, largest=True):
        xp = backend.get_array_module(a)
        index = (a.argmax if largest else a.argmin)(axis=axis, keepdims=True)     # (.., 1, ..)
        values = xp.take_along_axis(a, index, axis=axis)
        ctx.shape, ctx.axis, ctx.index = a.shape, axis, index
        if not keepdim:
            values, index = values.squeeze(axis), index.squeeze(axis)
        return values, index.astype(xp.int64, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        if g.ndim < len(ctx.shape):
            g = xp.expand_dims(g, ctx.axis)
        positions = xp.arange(ctx.shape[ctx.axis]).reshape(
            [-1 if i == ctx.axis else 1 for i in range(len(ctx.shape))])          # along axis only
        return xp.where(positions == ctx.index, g, xp.zeros((), dtype=g.dtype))


def _dim(fn, input, dim):
    if not is_int(dim):
        raise TypeError(f"{fn}: `dim` must be an int (for several dims use amax/amin). "
                        f"Received: dim={dim!r}")
    return normalize_dim(fn, dim, input.ndim)


def extreme_along(fn, input, dim, keepdim=False, largest=True):
    """``(values, indices)`` of the max (``largest``) or min of ``input`` along ``dim``."""
    axis = _dim(fn, input, dim)
    if input.ndim == 0:  # a scalar is its own extreme, at index 0
        values = input.reshape(1)
        out = ExtremeAlong.apply(values, axis=0, keepdim=False, largest=largest)
        result = (out[0].reshape(()), out[1].reshape(()))
    else:
        check_nonempty(fn, input.shape, (axis,))
        result = ExtremeAlong.apply(input, axis=axis, keepdim=bool(keepdim), largest=largest)
    return (max_result if largest else min_result)(*result)


def arg_extreme(fn, input, dim=None, keepdim=False, largest=True):
    """Index of the max (``largest``) or min; with ``dim=None``, into the flattened tensor."""
    data = input._data
    xp = backend.get_array_module(data)
    pick = data.argmax if largest else data.argmin
    if dim is None:
        if data.size == 0:   # PyTorch: an IndexError here, unlike max()
            raise IndexError(f"{fn}: cannot reduce an empty tensor (shape {input.shape}); name "
                             f"the dim to reduce")
        index = xp.asarray(pick())
        return Tensor._wrap(index.reshape((1,) * data.ndim) if keepdim else index)
    axis = _dim(fn, input, dim)
    if data.ndim:
        check_nonempty(fn, input.shape, (axis,))
    if data.ndim == 0:
        return Tensor._wrap(xp.zeros((), dtype=xp.int64))
    return Tensor._wrap(pick(axis=axis, keepdims=bool(keepdim)).astype(xp.int64, copy=False))


def _max_or_min(fn, input, dim, keepdim, largest, other):
    if isinstance(dim, Tensor):            # max(a, b): elementwise
        other, dim = dim, None
    if other is not None:
        from .selection import Maximum

        return Maximum.apply(input, other, largest=largest)
    if dim is None:
        from . import reduce

        return (reduce.max if largest else reduce.min)(input, None, False)
    return extreme_along(fn, input, dim, keepdim, largest=largest)


def max(input, dim=None, keepdim=False, *, other=None):
    """PyTorch's ``torch.max``: ``max(x)`` the largest value (a 0-d tensor); ``max(x, dim)`` the
    pair ``(values, indices)`` along ``dim``; ``max(a, b)`` the elementwise maximum.

    For the largest value over several dims at once use ``x.amax(dims)``.
    """
    return _max_or_min("max", input, dim, keepdim, True, other)


def min(input, dim=None, keepdim=False, *, other=None):
    """PyTorch's ``torch.min``: ``min(x)``, ``min(x, dim)`` -> ``(values, indices)``, ``min(a, b)``.
    """
    return _max_or_min("min", input, dim, keepdim, False, other)
