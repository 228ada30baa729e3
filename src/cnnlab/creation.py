"""Tensor factories with PyTorch's signatures: ``zeros_like``, ``full``, ``eye``, ``linspace``,
``randint``, ``randperm``, ... each with ``dtype=`` and ``device=``.

Random draws come from cnnlab's seeded generator (``cnnlab.manual_seed``), or ``generator=``.
"""

import numpy as np

from . import backend
from .tensor import Tensor, _dtype_arg


def _rng(generator):
    """The NumPy generator to draw from: ``generator`` (a NumPy one, or ``cnnlab.Generator``, whose
    ``rng`` it is), else cnnlab's global one."""
    if generator is None:
        return backend.get_rng()
    return getattr(generator, "rng", generator)


def _finish(fn, array, dtype, device, requires_grad):
    t = Tensor._wrap(array)
    if device is not None:
        t = t.to(backend.require_device(fn, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(fn, dtype, default=None):
    if dtype is None:
        return np.dtype(default) if default is not None else backend.get_default_dtype()
    return _dtype_arg(fn, dtype)


def _shape(fn, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
               for n in size):
        raise ValueError(f"{fn}: `size` must be non-negative ints. Received: size={size!r}")
    return tuple(int(n) for n in size)


def _like(fn, input, fill, dtype, device, requires_grad):
    dtype = input.dtype if dtype is None else _dtype_arg(fn, dtype)
    device = input.device if device is None else device
    return _finish(fn, np.full(input.shape, fill, dtype=dtype), dtype, device, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return _like("full_like", input, fill_value, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    """Zeros, not garbage: cnnlab hands out no uninitialised memory."""
    return _like("empty_like", input, 0, dtype, device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    dtype = input.dtype if dtype is None else _dtype_arg("rand_like", dtype)
    array = backend.get_rng().random(input.shape).astype(dtype)
    return _finish("rand_like", array, dtype, device or input.device, requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    dtype = input.dtype if dtype is None else _dtype_arg("randn_like", dtype)
    array = backend.get_rng().standard_normal(input.shape).astype(dtype)
    return _finish("randn_like", array, dtype, device or input.device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` full of ``fill_value``; its dtype follows the value (bool, int64 or
    the default float), as PyTorch."""
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else
                 np.int64 if isinstance(fill_value, (int, np.integer)) else None)
    dtype = _dtype("full", dtype)
    return _finish("full", np.full(_shape("full", tuple(size) if isinstance(size, (tuple, list))
                                          else (size,)), fill_value, dtype=dtype),
                   dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Zeros, not garbage: cnnlab hands out no uninitialised memory."""
    dtype = _dtype("empty", dtype)
    return _finish("empty", np.zeros(_shape("empty", size), dtype=dtype), dtype, device,
                   requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``n x m`` identity matrix (``m`` defaults to ``n``)."""
    dtype = _dtype("eye", dtype)
    return _finish("eye", np.eye(n, n if m is None else m, dtype=dtype), dtype, device,
                   requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"linspace: `steps` must be a non-negative int. Received: steps={steps!r}")
    dtype = _dtype("linspace", dtype)
    array = np.linspace(float(start), float(end), int(steps)).astype(dtype)
    return _finish("linspace", array, dtype, device, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers drawn uniformly from ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)``; int64 unless ``dtype`` says otherwise."""
    if size is None:                       # randint(high, size)
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if not low < high:
        raise ValueError(f"randint: `low` must be below `high`. Received: low={low}, high={high}")
    rng = _rng(generator)
    dtype = _dtype("randint", dtype, np.int64)
    array = rng.integers(low, high, size=_shape("randint", tuple(size))).astype(dtype)
    return _finish("randint", array, dtype, device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0..n-1`` (int64)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: `n` must be a non-negative int. Received: n={n!r}")
    rng = _rng(generator)
    dtype = _dtype("randperm", dtype, np.int64)
    return _finish("randperm", rng.permutation(int(n)).astype(dtype), dtype, device,
                   requires_grad)
