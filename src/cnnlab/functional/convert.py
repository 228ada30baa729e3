"""Dtype and device conversion (``Tensor.to``), differentiable as in PyTorch."""

from .. import backend
from ..autograd import Context, Function
from ..tensor import Tensor


class Convert(Function):
    """Copy to another dtype and/or device; the gradient goes back to the input's dtype, device."""

    @staticmethod
    def forward(ctx, a, dtype=None, device=None):
        ctx.dtype, ctx.device = a.dtype, backend.device_of(a)
        if device is not None:
            a = backend.to_device(a, str(device))
        return a if dtype is None else a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return backend.to_device(g, str(ctx.device)).astype(ctx.dtype, copy=False)


def convert(a, dtype=None, device=None, copy=False):
    """``a`` with ``dtype`` and on ``device`` (None keeps it); ``a`` itself when nothing changes.

    A conversion to a non-floating dtype cuts the graph (an integer tensor has no gradient).
    """
    same_dtype = dtype is None or dtype == a.dtype
    same_device = device is None or device == backend.device_of(a._data)
    if same_dtype and same_device and not copy:
        return a
    dtype = None if same_dtype else dtype
    device = None if same_device else device
    if dtype is not None and dtype.kind != "f":
        return Tensor._wrap(Convert.forward(Context(), a._data, dtype, device))
    out = Convert.apply(a, dtype=dtype, device=device)
    if dtype is None and device is None:  # copy=True: a fresh array, still differentiable
        out._data = out._data.copy()
    return out
