"""Cheap element-wise ops (reference): ReLU, and the residual add followed by a ReLU."""

from ... import backend
from ._layout import in_layout

__all__ = ["relu_forward", "relu_backward", "add_relu_forward"]


def relu_forward(x):
    """max(x, 0), in ``x``'s memory layout (NaN stays NaN, as PyTorch)."""
    return backend.get_array_module(x).maximum(x, 0)


def relu_backward(g, out):
    """The gradient passes except where the output is <= 0 (a NaN output passes it, as PyTorch)."""
    xp = backend.get_array_module(g)
    return in_layout(xp.where(out <= 0, 0, g).astype(g.dtype, copy=False), out)


def add_relu_forward(a, b):
    """max(a + b, 0): a residual block's sum and its ReLU. Its backward is ``relu_backward`` for both."""
    return backend.get_array_module(a).maximum(a + b, 0)
