"""Reductions (sum, mean, var, max, min over axes) with their gradients."""

import builtins

import numpy as np

from .. import backend
from ..autograd import Function
from ..validation import normalize_dim, normalize_dims


def _normalize_axis(axis, ndim, name, in_order=False):
    """Sorted axes to reduce, or None for all of them (``dim=()`` too, and any dim of a 0-d
    tensor, as PyTorch)."""
    if axis is None:
        return None
    axes = normalize_dims(name, axis, ndim, in_order)
    return axes if axes and ndim else None


def _expand(g, shape, axis, keepdims):
    """Put the reduced axes back into ``g`` (as size 1) so it broadcasts against the input."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdims:
        for a in axis:
            g = backend.get_array_module(g).expand_dims(g, a)
    return g


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        return xp.broadcast_to(_expand(g, ctx.shape, ctx.axis, ctx.keepdims), ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.count = a.size if axis is None else int(_prod(a.shape[i] for i in axis))
        return a.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        return xp.broadcast_to(_expand(g, ctx.shape, ctx.axis, ctx.keepdims) / ctx.count, ctx.shape)


class Var(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, unbiased=True):
        ctx.axis, ctx.keepdims = axis, keepdims
        n = a.size if axis is None else int(_prod(a.shape[i] for i in axis))
        ctx.denom = builtins.max(n - 1, 0) if unbiased else n
        centered = a - a.mean(axis=axis, keepdims=True)
        ctx.save_for_backward(centered)
        with np.errstate(divide="ignore", invalid="ignore"):   # one value: NaN, as PyTorch
            return (centered * centered).sum(axis=axis, keepdims=keepdims) / ctx.denom

    @staticmethod
    def backward(ctx, g):
        (centered,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):   # one value: NaN, as PyTorch
            return _expand(g, centered.shape, ctx.axis, ctx.keepdims) * 2.0 * centered / ctx.denom


class _Extreme(Function):
    """max/min over axes; tied extremes share the gradient equally (as ``torch.amax``/``amin``)."""

    reduce = None

    @classmethod
    def forward(cls, ctx, a, axis=None, keepdims=False):
        out = getattr(a, cls.reduce)(axis=axis, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        if keepdims:
            return out
        return out.reshape(()) if axis is None else out.squeeze(axis=axis)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return mask * (_expand(g, a.shape, ctx.axis, ctx.keepdims) / count)


class Max(_Extreme):
    reduce = "max"


class Min(_Extreme):
    reduce = "min"


def _prod(values):
    p = 1
    for v in values:
        p *= v
    return p


def sum(a, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all)."""
    return Sum.apply(a, axis=_normalize_axis(axis, a.ndim, "sum"), keepdims=keepdims)


def mean(a, axis=None, keepdims=False):
    """Mean over ``axis`` (int, tuple or None for all)."""
    return Mean.apply(a, axis=_normalize_axis(axis, a.ndim, "mean"), keepdims=keepdims)


def var(a, axis=None, keepdims=False, unbiased=True):
    """Variance over ``axis``; ``unbiased`` divides by n - 1 (PyTorch's default)."""
    axis = _normalize_axis(axis, a.ndim, "var", in_order=True)
    return Var.apply(a, axis=axis, keepdims=keepdims, unbiased=unbiased)


def _in_range(fn, axis, ndim):
    """The dims in ``axis`` checked for range only (repeats come later, as in PyTorch); None for
    all of them."""
    if axis is None or axis == () or axis == [] or ndim == 0:
        return None
    return [normalize_dim(fn, d, ndim) for d in ((axis,) if isinstance(axis, int) else axis)]


def check_nonempty(fn, shape, axes):
    """An extreme needs one value per slice: refuse reducing over a dim of size 0, as PyTorch
    (an IndexError naming the dim; a ValueError when no dim is named and the tensor is empty)."""
    if axes is None:
        if 0 in shape:
            raise ValueError(f"{fn}: cannot reduce an empty tensor (shape {tuple(shape)}); name "
                             f"the dim to reduce")
        return
    for d in axes:
        if shape[d] == 0:
            raise IndexError(f"{fn}: Expected reduction dim {d} to have non-zero size (input "
                             f"shape {tuple(shape)})")


def max(a, axis=None, keepdims=False):
    """Largest value over ``axis``; the gradient goes to the maxima (split equally among ties)."""
    check_nonempty("max", a.shape, _in_range("max", axis, a.ndim))
    axis = _normalize_axis(axis, a.ndim, "max")
    return Max.apply(a, axis=axis, keepdims=keepdims)


def min(a, axis=None, keepdims=False):
    """Smallest value over ``axis``; the gradient goes to the minima (split equally among ties)."""
    check_nonempty("min", a.shape, _in_range("min", axis, a.ndim))
    axis = _normalize_axis(axis, a.ndim, "min")
    return Min.apply(a, axis=axis, keepdims=keepdims)
