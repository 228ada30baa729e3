"""Activations (relu, leaky_relu, elu, relu6, hardtanh, sigmoid, tanh, softmax, log_softmax) with their gradients.

Each backward reuses what the forward already computed (the output, or a mask) instead of the input
where it can, so no activation recomputes an exponential.

Every public activation takes a floating tensor ``input`` of any shape and returns a new tensor of that
shape. ``inplace=True`` is accepted for PyTorch compatibility; the result is the same but it is computed
out of place (writing into an input that the graph may still need would corrupt its gradient).
"""

import warnings

import numpy as np

from .. import backend, kernels
from ..autograd import Function
from ..validation import floating, normalize_dim, real_arg, tensor_arg
from .elementwise import Clamp, unary


def _input(fn, input):
    return floating(fn, "input", tensor_arg(fn, "input", input))


# ---------------------------------------------------------------------------------------------- piecewise linear
class ReLU(Function):
    """max(x, 0); backward lets the gradient through where the output is positive."""

    @staticmethod
    def forward(ctx, x):
        ctx.kernels = kernels.for_arrays(x)
        out = ctx.kernels.relu_forward(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return ctx.kernels.relu_backward(g, out)


class AddReLU(Function):
    """max(a + b, 0) for two inputs of one shape (a residual block's sum and its ReLU); both inputs get
    the gradient where the output is positive."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.kernels = kernels.for_arrays(a, b)
        out = ctx.kernels.add_relu_forward(a, b)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        gx = ctx.kernels.relu_backward(g, out)
        return gx, gx


class LeakyReLU(Function):
    """x for x > 0, slope * x otherwise."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return xp.where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xp = backend.get_array_module(g)
        return xp.where(x > 0, g, g * ctx.slope)


class Hardtanh(Clamp):
    """clip(x, min_val, max_val), as ``Clamp``; but the gradient passes strictly inside the interval
    (PyTorch's convention for hardtanh), where clamp's passes on the bounds too."""

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        return Clamp.forward(ctx, x, min_val, max_val)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > ctx.lo) & (x < ctx.hi))


class ELU(Function):
    """x for x > 0, alpha * (exp(x) - 1) otherwise; for x <= 0 the derivative alpha * exp(x) = out + alpha."""

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        xp = backend.get_array_module(x)
        # expm1 of min(x, 0): accurate near 0 and never overflows on the (discarded) positive side.
        out = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        ctx.save_for_backward(x, out)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        xp = backend.get_array_module(g)
        return xp.where(x > 0, g, g * (out + ctx.alpha))


# ---------------------------------------------------------------------------------------------- smooth
class Sigmoid(Function):
    """1 / (1 + exp(-x)) evaluated through exp(-|x|) <= 1, so no exponential overflows for large |x|."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-xp.abs(x))
        inv = 1 / (1 + e)                    # sigmoid(|x|)
        out = xp.where(x >= 0, inv, e * inv)  # sigmoid(-|x|) = e / (1 + e) for negative x
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


# d tanh(x)/dx = 1 - tanh(x)^2, from the output
Tanh = unary("Tanh", lambda xp, x: xp.tanh(x), lambda g, out: g * (1 - out * out), saves_output=True,
             module=__name__)


def _shifted(ctx, x, axis, dtype):
    """``x`` (cast to ``dtype`` if given) minus its max along ``axis``: every exponent then is <= 0.

    Records the input dtype, in which backward returns the gradient.
    """
    ctx.in_dtype, ctx.axis = x.dtype, axis
    if dtype is not None:
        x = x.astype(dtype)
    # an empty tensor has no max and needs none
    row_max = x.sum(axis=axis, keepdims=True) if x.size == 0 else x.max(axis=axis, keepdims=True)
    return backend.get_array_module(x), x - row_max


class Softmax(Function):
    """exp(x - max) / sum exp(x - max) along ``axis``; backward s * (g - sum(g * s))."""

    @staticmethod
    def forward(ctx, x, axis=-1, dtype=None):
        xp, shifted = _shifted(ctx, x, axis, dtype)
        e = xp.exp(shifted)
        e /= e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        gs = g * s
        gx = gs - s * gs.sum(axis=ctx.axis, keepdims=True)
        return gx.astype(ctx.in_dtype, copy=False)


class LogSoftmax(Function):
    """x - max - log(sum exp(x - max)) along ``axis``; backward g - exp(out) * sum(g)."""

    @staticmethod
    def forward(ctx, x, axis=-1, dtype=None):
        xp, shifted = _shifted(ctx, x, axis, dtype)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        xp = backend.get_array_module(g)
        gx = g - xp.exp(out) * g.sum(axis=ctx.axis, keepdims=True)
        return gx.astype(ctx.in_dtype, copy=False)


# ---------------------------------------------------------------------------------------------- public API
def relu(input, inplace=False):
    """Rectified linear unit, max(x, 0)."""
    return ReLU.apply(_input("relu", input))


def add_relu(input, other):
    """``relu(input + other)`` as one op (one pass, one array kept): the end of a residual block.

    Args:
        input, other: floating tensors of one shape and dtype.

    Shape: output has the inputs' shape.
    """
    input = _input("add_relu", input)
    other = floating("add_relu", "other", tensor_arg("add_relu", "other", other))
    if input.shape != other.shape or input.dtype != other.dtype:
        raise ValueError(f"add_relu: `input` and `other` must have one shape and dtype. Received shapes "
                         f"{input.shape} and {other.shape}, dtypes {input.dtype} and {other.dtype}")
    return AddReLU.apply(input, other)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0 and ``negative_slope * x`` otherwise, so negative units keep a small gradient.

    Args:
        negative_slope: slope for x <= 0.
    """
    input = _input("leaky_relu", input)
    slope = real_arg("leaky_relu", "negative_slope", negative_slope, finite=True)
    return LeakyReLU.apply(input, negative_slope=slope)


def elu(input, alpha=1.0, inplace=False):
    """Exponential linear unit: x for x > 0 and ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the value the output approaches for x -> -inf is ``-alpha``.
    """
    input = _input("elu", input)
    return ELU.apply(input, alpha=real_arg("elu", "alpha", alpha, finite=True))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clip to ``[min_val, max_val]``.

    Args:
        min_val, max_val: the interval; ``min_val`` must not exceed ``max_val``.
    """
    input = _input("hardtanh", input)
    lo = real_arg("hardtanh", "min_val", min_val, finite=True)
    hi = real_arg("hardtanh", "max_val", max_val, finite=True)
    if lo > hi:
        raise ValueError(f"hardtanh: `min_val` must not exceed `max_val`. Received: min_val={min_val!r}, "
                         f"max_val={max_val!r}")
    return Hardtanh.apply(input, min_val=lo, max_val=hi)


def relu6(input, inplace=False):
    """min(max(x, 0), 6), the bounded ReLU of MobileNet."""
    return Hardtanh.apply(_input("relu6", input), min_val=0.0, max_val=6.0)


def sigmoid(input):
    """Logistic function 1 / (1 + exp(-x)), stable for large |x| (no overflow, exact 0 and 1 limits)."""
    return Sigmoid.apply(_input("sigmoid", input))


def tanh(input):
    """Hyperbolic tangent."""
    return Tanh.apply(_input("tanh", input))


def _apply_softmax(fn, function, input, dim, dtype):
    """Check softmax's arguments and apply ``function`` (Softmax or LogSoftmax) along ``dim``."""
    input = _input(fn, input)
    if dim is None:
        # PyTorch's legacy implicit choice of dim, with its warning.
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"{fn}: implicit dimension choice is deprecated; pass `dim` explicitly "
                      f"(using dim={dim} for a {input.ndim}-D input)", UserWarning, stacklevel=3)
    axis = normalize_dim(fn, dim, input.ndim)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{fn}: `dtype` must be a floating dtype. Received: dtype={dtype}")
    if input.ndim == 0:
        return function.apply(input.reshape(1), axis=0, dtype=dtype).reshape(())
    return function.apply(input, axis=axis, dtype=dtype)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Normalised exponentials along ``dim``: each slice along ``dim`` is positive and sums to 1.

    Stable for any finite logits: the slice's maximum is subtracted before exponentiating.

    Args:
        dim: the axis that sums to 1.
        dtype: if given, the input is cast to this dtype first (the gradient comes back in the input's dtype).
    """
    return _apply_softmax("softmax", Softmax, input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim`` computed as x - max - log(sum exp(x - max)): finite for logits of any size.

    Args:
        dim: the axis that is normalised.
        dtype: if given, the input is cast to this dtype first (the gradient comes back in the input's dtype).
    """
    return _apply_softmax("log_softmax", LogSoftmax, input, dim, dtype)


# ---------------------------------------------------------------------------------------------- SiLU, Hardswish
class SiLU(Function):
    """x * sigmoid(x); d/dx = s + x s (1 - s) = s (1 + x (1 - s)), from the saved sigmoid s."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-xp.abs(x))                          # <= 1: no overflow for large |x|
        s = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))  # sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * (s * (1 + x * (1 - s)))


class Hardswish(Function):
    """x * relu6(x + 3) / 6, the cheap SiLU of MobileNetV3.

    The derivative is 0 up to -3, x / 3 + 1/2 on (-3, 3) and 1 from 3 on (PyTorch's convention at the
    two corners: the outer pieces' values).
    """

    @staticmethod
    def forward(ctx, x):
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x)
        return x * xp.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xp = backend.get_array_module(g)
        slope = xp.where(x <= -3, 0.0, xp.where(x < 3, x / 3 + 0.5, 1.0)).astype(x.dtype, copy=False)
        return g * slope


def silu(input, inplace=False):
    """Sigmoid-weighted linear unit (swish), ``x * sigmoid(x)``: EfficientNet's activation."""
    return SiLU.apply(_input("silu", input))


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6``: a piecewise-quadratic stand-in for SiLU without an exponential."""
    return Hardswish.apply(_input("hardswish", input))
