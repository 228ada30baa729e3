"""``cnnlab.max``, ``cnnlab.sum``, ... : the top-level tensor functions with PyTorch's signatures.

They differ from ``cnnlab.functional``'s reductions where PyTorch's top level does: ``max(x, 1)``
gives the pair ``(values, indices)``, ``max(a, b)`` is elementwise, ``flatten`` starts at dim 0.
"""

import operator

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


def matmul(input, other):
    return F.matmul(input, other)


_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _comparison(op):
    """PyTorch's ``eq(input, other)`` (``ne``, ``lt``, ...): ``op(input, other)``, a boolean tensor."""

    def compare(input, other):
        return op(input, other)

    compare.__name__ = compare.__qualname__ = op.__name__
    compare.__doc__ = f"``input {_SYMBOLS[op.__name__]} other``, element-wise, as a boolean tensor."
    return compare


eq, ne, lt, le, gt, ge = (_comparison(getattr(operator, name)) for name in _SYMBOLS)


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


# ------------------------------------------------------------------- PyTorch's other top-level names
# torch.softmax(x, 1), torch.sigmoid(x), torch.reshape(x, s), torch.mm(a, b), ...: the same ops as
# nn.functional's and the tensor methods', so a program calling them runs with its imports renamed.
def softmax(input, dim, dtype=None):
    return F.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, dtype=None):
    return F.log_softmax(input, dim, dtype=dtype)


def _of_input(fn):
    """PyTorch's one-tensor ``name(input)``: ``fn(input)`` (``fn`` may take more, optional, arguments)."""

    def op(input):
        return fn(input)

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = f"``cnnlab.functional.{fn.__name__}(input)``."
    return op


abs, sqrt, relu, sigmoid, tanh = (_of_input(fn) for fn in (F.abs, F.sqrt, F.relu, F.sigmoid, F.tanh))


def reshape(input, shape):
    return input.reshape(shape)


def transpose(input, dim0, dim1):
    return shape.transpose(input, dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def squeeze(input, dim=None):
    return shape.squeeze(input, dim)


def unsqueeze(input, dim):
    return shape.unsqueeze(input, dim)


def concat(tensors, dim=0):
    return shape.cat(tensors, dim)


concatenate = concat


def clip(input, min=None, max=None):
    return F.clamp(input, min, max)


def mm(input, mat2):
    """Matrix product of two 2-D tensors (``matmul`` broadcasts; ``mm`` insists on matrices)."""
    _expect_dims("mm", input, mat2, 2)
    return F.matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of two 3-D tensors, (B, n, m) @ (B, m, p) -> (B, n, p)."""
    _expect_dims("bmm", input, mat2, 3)
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: the batch sizes differ: {input.shape[0]} and {mat2.shape[0]} "
                           f"(shapes {tuple(input.shape)} and {tuple(mat2.shape)})")
    return F.matmul(input, mat2)


def _expect_dims(fn, a, b, ndim):
    if a.ndim != ndim or b.ndim != ndim:
        raise RuntimeError(f"{fn}: expects two {ndim}-D tensors. Received shapes {tuple(a.shape)} "
                           f"and {tuple(b.shape)}")
