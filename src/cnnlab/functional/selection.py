"""Picking and ordering values: topk, sort, where, elementwise maximum/minimum, cumsum, std, norm.

PyTorch's names and return types (``topk`` and ``sort`` give ``(values, indices)`` named pairs);
each gradient goes back to the positions the values were taken from.
"""

import numbers
from collections import namedtuple

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..validation import is_int, normalize_dim
from . import elementwise, reduce
from .extreme import max, min  # noqa: F401  (torch.max and torch.min, re-exported)

topk_result = namedtuple("topk", ("values", "indices"))
sort_result = namedtuple("sort", ("values", "indices"))


def _dim(fn, input, dim):
    return normalize_dim(fn, dim, input.ndim)


class TakeAlong(Function):
    """Values at ``index`` along ``axis``; backward scatters the gradient back to those places."""

    @staticmethod
    def forward(ctx, a, index=None, axis=0):
        xp = backend.get_array_module(a)
        ctx.shape, ctx.index, ctx.axis = a.shape, index, axis
        return xp.take_along_axis(a, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        out = xp.zeros(ctx.shape, dtype=g.dtype)
        # topk/sort indices are distinct within a slice, so a plain put never loses a value
        xp.put_along_axis(out, ctx.index, g, axis=ctx.axis)
        return out


def _order(data, axis, descending):
    """Indices that sort ``data`` along ``axis``; ties keep their order (a stable sort)."""
    xp = backend.get_array_module(data)
    if descending:
        key = ~data if data.dtype.kind in "bu" else -data  # a stable descending order
        return xp.argsort(key, axis=axis, kind="stable")
    return xp.argsort(data, axis=axis, kind="stable")


def _take(fn, input, order, axis):
    if input.ndim == 0:
        return input, Tensor._wrap(backend.get_array_module(input._data).zeros((), "int64"))
    return TakeAlong.apply(input, index=order, axis=axis), Tensor._wrap(order.astype("int64"))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, as PyTorch.

    Shape: ``dim`` of size ``n`` becomes size ``k``.
    """
    axis = _dim("topk", input, dim)
    n = input.shape[axis] if input.ndim else 1
    if not is_int(k) or not 0 <= k <= n:
        raise ValueError(f"topk: `k` must be an int in 0..{n} (the size of dim {dim}). "
                         f"Received: k={k!r}")
    if input.ndim == 0:
        return topk_result(*_take("topk", input, None, 0))
    xp = backend.get_array_module(input._data)
    order = _order(input._data, axis, descending=largest)
    order = xp.take(order, xp.arange(int(k)), axis=axis)                  # first k along axis
    return topk_result(*_take("topk", input, order, axis))


def sort(input, dim=-1, descending=False, stable=False):
    """Values sorted along ``dim`` and the indices they came from (ties in their original order)."""
    axis = _dim("sort", input, dim)
    if input.ndim == 0:
        return sort_result(*_take("sort", input, None, 0))
    return sort_result(*_take("sort", input, _order(input._data, axis, descending), axis))


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim``."""
    return sort(input, dim, descending, stable).indices


class Where(Function):
    """``a`` where ``condition`` holds, ``b`` elsewhere; each gradient is masked the same way."""

    @staticmethod
    def forward(ctx, a, b, condition=None):
        xp = backend.get_array_module(condition)
        ctx.condition = condition
        return xp.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        ga = xp.where(ctx.condition, g, zero) if ctx.needs_input_grad[0] else None
        gb = xp.where(ctx.condition, zero, g) if ctx.needs_input_grad[1] else None
        return ga, gb


def where(condition, input=None, other=None):
    """``input`` where ``condition`` is True, ``other`` elsewhere (broadcast together).

    ``where(condition)`` alone gives the indices of the True elements, one tensor per dimension.
    """
    cond = condition._data if isinstance(condition, Tensor) else condition
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        raise TypeError(f"where: `condition` must be a boolean tensor. Received "
                        f"{getattr(cond, 'dtype', type(condition).__name__)}")
    xp = backend.get_array_module(cond)
    if input is None and other is None:
        return tuple(Tensor._wrap(i.astype(xp.int64)) for i in xp.nonzero(cond))
    if input is None or other is None:
        raise TypeError("where: give both `input` and `other`, or neither")
    out_dtype = _result_dtype(input, other)
    a = input if isinstance(input, Tensor) else xp.asarray(input, dtype=out_dtype)
    b = other if isinstance(other, Tensor) else xp.asarray(other, dtype=out_dtype)
    return Where.apply(a, b, condition=cond)


def _result_dtype(*values):
    """PyTorch's rule for a tensor mixed with Python numbers: the tensor's dtype wins."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if tensors:
        return tensors[0].dtype
    return backend.get_default_dtype() if any(isinstance(v, float) for v in values) else "int64"


class Maximum(Function):
    """Elementwise larger (or smaller) of two tensors; tied elements share the gradient."""

    @staticmethod
    def forward(ctx, a, b, largest=True):
        xp = backend.get_array_module(a)
        ctx.save_for_backward(a, b)
        ctx.largest = largest
        return xp.maximum(a, b) if largest else xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = backend.get_array_module(g)
        won = a > b if ctx.largest else a < b
        share = xp.where(a == b, 0.5, won).astype(g.dtype)                # a's part: 1, 0 or 1/2
        ga = g * share if ctx.needs_input_grad[0] else None
        gb = g * (1 - share) if ctx.needs_input_grad[1] else None
        return ga, gb


def maximum(input, other):
    """The larger of ``input`` and ``other`` at each position (broadcast together)."""
    return Maximum.apply(input, other, largest=True)


def minimum(input, other):
    """The smaller of ``input`` and ``other`` at each position (broadcast together)."""
    return Maximum.apply(input, other, largest=False)


class Cumsum(Function):
    """Running sum along ``axis``; its gradient is the running sum of ``g`` from the other end."""

    @staticmethod
    def forward(ctx, a, axis=0, dtype=None):
        xp = backend.get_array_module(a)
        ctx.axis = axis
        return xp.cumsum(a, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        return xp.flip(xp.cumsum(xp.flip(g, ctx.axis), axis=ctx.axis), ctx.axis)


def cumsum(input, dim, dtype=None):
    """Running sum along ``dim``: ``out[i] = input[0] + ... + input[i]``. Integers sum as int64."""
    axis = _dim("cumsum", input, dim)
    if dtype is None and input.dtype.kind in "biu":
        dtype = "int64"  # as PyTorch: integer running sums do not overflow their small type
    if input.ndim == 0:
        return Cumsum.apply(input.reshape(1), axis=0, dtype=dtype).reshape(())
    return Cumsum.apply(input, axis=axis, dtype=dtype)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """Standard deviation over ``dim``; ``unbiased`` (or ``correction=1``) divides by n - 1."""
    if correction is not None:
        if correction not in (0, 1):
            raise ValueError(f"std: `correction` must be 0 or 1. "
                             f"Received: correction={correction!r}")
        unbiased = bool(correction)
    return elementwise.sqrt(reduce.var(input, dim, keepdim, unbiased))


def norm(input, p="fro", dim=None, keepdim=False):
    """The ``p``-norm over ``dim`` (all elements by default): 2/'fro', 1, inf, -inf or any p > 0."""
    if p == "fro" or p == 2:
        return elementwise.sqrt(reduce.sum(input * input, dim, keepdim))
    if p == float("inf"):
        return reduce.max(elementwise.abs(input), dim, keepdim)
    if p == float("-inf"):
        return reduce.min(elementwise.abs(input), dim, keepdim)
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or p <= 0:
        raise ValueError(f"norm: `p` must be 'fro', inf, -inf or a number > 0. Received: p={p!r}")
    if p == 1:
        return reduce.sum(elementwise.abs(input), dim, keepdim)
    return reduce.sum(elementwise.abs(input) ** p, dim, keepdim) ** (1.0 / p)


def equal(input, other):
    """True if both tensors have the same shape and the same values (a Python bool)."""
    a = input._data if isinstance(input, Tensor) else input
    b = other._data if isinstance(other, Tensor) else other
    return tuple(a.shape) == tuple(b.shape) and bool((a == b).all())
