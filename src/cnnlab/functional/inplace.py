"""In-place ops (``add_``, ``mul_``, ``t[i] = v``, ...): the op out of place, written back into the
tensor's own array, with PyTorch's autograd rules.

- A leaf that requires grad cannot change in place while the graph is being recorded (its
  gradient would refer to values that no longer exist); under ``no_grad`` it can (optimizer steps).
- Every in-place change bumps the tensor's version; an op that saved the tensor for its backward
  notices the change there and refuses to compute a wrong gradient (``autograd.engine``).
- A non-leaf changed in place takes the op into its history: gradients flow through the op to a
  copy of the values from before. A tensor that other recorded ops have already used cannot be
  rewritten so (their gradients would flow through the change): cnnlab refuses, asking for the
  out-of-place form, where PyTorch rebases those uses.
"""

import numpy as np

from .. import backend
from ..autograd import Function, grad_mode
from ..tensor import Tensor


class SetItem(Function):
    """A copy of ``a`` with ``a[index] = v``; ``a``'s gradient is zero where ``v`` was written."""

    @staticmethod
    def forward(ctx, a, v, index=None):
        ctx.index = index
        out = a.copy()
        out[index] = v
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gv = None
        if ctx.needs_input_grad[0]:
            ga = g.copy()
            ga[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gv = g[ctx.index]          # the engine sums it down to v's shape if v was broadcast
        return ga, gv


def raw_index(index):
    """``index`` with tensors replaced by their arrays (for NumPy indexing)."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _wants_grad(values):
    return any(isinstance(v, Tensor) and v.requires_grad for v in values)


def apply(t, name, compute, *others, direct=None):
    """Change ``t`` in place to ``compute(t)`` (the op out of place); return ``t``.

    ``direct(array)``, when given, makes the change on the raw array itself where no graph is
    recorded (no temporary copy).
    """
    tracked = grad_mode.is_grad_enabled() and (t.requires_grad or _wants_grad(others))
    if tracked and t.requires_grad and t._node is None:
        raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation (change it inside `with cnnlab.no_grad():`, or "
                           f"through `.data`)")
    if not tracked:
        if direct is not None:
            _check_writeable(t, name)
            direct(t._data)
        else:
            with grad_mode.no_grad():
                _write(t, name, compute(t))
        t._version += 1
        return t
    if t._consumers:
        raise RuntimeError(f"{name}: this tensor was already used by {t._consumers} op(s) in the "
                           f"graph, whose gradients would then flow through the in-place change; "
                           f"use the out-of-place form (e.g. `x = x.add(y)` for `x.add_(y)`)")
    before = Tensor._wrap(t._data.copy())        # the old values, for the op's backward
    before.requires_grad, before._node = t.requires_grad, t._node
    if before._node is not None:
        before._node.bind(before)
    result = compute(before)
    _write(t, name, result)
    t._node, t.requires_grad = result._node, result.requires_grad
    if t._node is not None:
        t._node.bind(t)
    t._version += 1
    return t


def _check_writeable(t, name):
    flags = getattr(t._data, "flags", None)
    if flags is not None and not flags.writeable:
        raise RuntimeError(f"{name}: this tensor's memory is read-only (a broadcast view, or an "
                           f"array NumPy marked read-only); clone() it first")


def _write(t, name, result):
    """Copy ``result``'s values into ``t``'s array, with PyTorch's shape and dtype checks."""
    data = result._data if isinstance(result, Tensor) else result
    if tuple(data.shape) != tuple(t.shape):
        raise RuntimeError(f"{name}: output with shape {list(t.shape)} doesn't match the "
                           f"broadcast shape {list(data.shape)}")
    if not np.can_cast(data.dtype, t.dtype, casting="same_kind"):
        raise RuntimeError(f"{name}: result type {data.dtype} can't be cast to the desired output "
                           f"type {t.dtype}")
    _check_writeable(t, name)
    xp = backend.get_array_module(t._data)
    t._data[...] = xp.asarray(data)


def fill_value(t, value):
    """A tensor of ``t``'s shape and dtype full of ``value`` (a number or a 0-d tensor)."""
    xp = backend.get_array_module(t._data)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_: only a 0-dimensional value tensor can fill a tensor. "
                               f"Received a value of shape {tuple(value.shape)}")
        value = value.item()
    return Tensor._wrap(xp.full(t.shape, value, dtype=t.dtype))
