"""``cnnlab.max``, ``cnnlab.sum``, ... : the top-level tensor functions with PyTorch's signatures.

They differ from ``cnnlab.functional``'s reductions where PyTorch's top level does: ``max(x, 1)``
gives the pair ``(values, indices)``, ``max(a, b)`` is elementwise, ``flatten`` starts at dim 0.
"""

from . import functional as F
from .functional import extreme, reduce, shape
from .functional.elementwise import exp, log  # noqa: F401  (re-exported at the top level)
from .functional.selection import (argsort, cumsum, equal, max, maximum, min, minimum,  # noqa: F401
                                   norm, sort, std, topk, where)
from .tensor import Tensor


def _cast(t, dtype):
    return t if dtype is None else t.to(dtype)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or None for all); bool and int sums are int64."""
    if dtype is None and input.dtype.kind in "biu":
        dtype = "int64"
    return reduce.sum(_cast(input, dtype), dim, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim`` (an int, a tuple, or None for all)."""
    return reduce.mean(_cast(input, dtype), dim, keepdim)


def var(input, dim=None, unbiased=True, keepdim=False):
    return reduce.var(input, dim, keepdim, unbiased)


def argmax(input, dim=None, keepdim=False):
    """Index of the largest value along ``dim``; with no dim, into the flattened tensor."""
    return extreme.arg_extreme("argmax", input, dim, keepdim, largest=True)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest value along ``dim``; with no dim, into the flattened tensor."""
    return extreme.arg_extreme("argmin", input, dim, keepdim, largest=False)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one; unlike ``F.flatten``, from dim 0 by default."""
    return shape.flatten(input, start_dim, end_dim)


def clamp(input, min=None, max=None):
    return F.clamp(input, min, max)


def abs(input):
    return F.abs(input)


def sqrt(input):
    return F.sqrt(input)


def matmul(input, other):
    return F.matmul(input, other)


def eq(input, other):
    return input == other


def ne(input, other):
    return input != other


def lt(input, other):
    return input < other


def le(input, other):
    return input <= other


def gt(input, other):
    return input > other


def ge(input, other):
    return input >= other


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)
