"""Basic layers' ops: linear (fully connected), dropout, dropout2d and identity, with their gradients."""


import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..validation import floating, is_real, tensor_arg, tensor_like


class Linear(Function):
    """y = x W^T + b over the last axis, as one matrix product on the flattened leading axes."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])                           # (M, in), M = prod(leading dims)
        out = x2 @ weight.T                                       # (M, out)
        if bias is not None:
            out += bias
        ctx.save_for_backward(x2, weight)
        ctx.lead = lead
        return out.reshape(lead + (weight.shape[0],))             # (..., out)

    @staticmethod
    def backward(ctx, g):
        x2, weight = ctx.saved_tensors
        g2 = g.reshape(-1, weight.shape[0])                       # (M, out)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (g2 @ weight).reshape(ctx.lead + (weight.shape[1],))   # (..., in)
        if ctx.needs_input_grad[1]:
            gw = g2.T @ x2                                        # (out, in)
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gb = g2.sum(axis=0)                                   # (out,)
        return gx, gw, gb


class Dropout(Function):
    """Multiply by a fixed mask of 0 and 1 / (1 - p); backward multiplies by the same mask."""

    @staticmethod
    def forward(ctx, x, mask=None):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


class Identity(Function):
    """The input itself (no copy): a graph node that passes the gradient unchanged."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def linear(input, weight, bias=None):
    """Fully connected layer: ``y = x W^T + b``, applied to the last axis of ``input``.

    Args:
        input: floating tensor ``(*, in_features)``.
        weight: ``(out_features, in_features)``, PyTorch's layout.
        bias: optional ``(out_features,)``.

    Shape: ``(*, in_features) -> (*, out_features)``.
    """
    input = floating("linear", "input", tensor_arg("linear", "input", input))
    weight = floating("linear", "weight", tensor_arg("linear", "weight", weight, ndim=2,
                                                       shape_hint="(out_features, in_features)"))
    if input.ndim == 0:
        raise ValueError(f"linear: `input` must have at least 1 dimension (*, in_features). "
                         f"Received a 0-D tensor")
    out_features, in_features = weight.shape
    if input.shape[-1] != in_features:
        raise ValueError(f"linear: input has {input.shape[-1]} features but weight expects {in_features} "
                         f"(input shape {input.shape}, weight shape {weight.shape})")
    if input.dtype != weight.dtype:
        raise TypeError(f"linear: `input` and `weight` must have the same dtype. Received input dtype "
                        f"{input.dtype}, weight dtype {weight.dtype}")
    if bias is None:
        return Linear.apply(input, weight)
    bias = tensor_like("linear", "bias", bias, (out_features,), weight.dtype, "weight's",
                       f" to match weight shape {weight.shape}")
    return Linear.apply(input, weight, bias)


def _check_p(fn, p, training):
    if not is_real(p) or not 0 <= p <= 1:
        raise ValueError(f"{fn}: `p` must be a probability in [0, 1]. Received: p={p!r}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{fn}: `training` must be a bool. Received: training={training!r}")
    return float(p)


def _mask(x, shape, p, generator):
    """Keep-mask of ``shape`` holding 1 / (1 - p) with probability 1 - p and 0 otherwise, in x's dtype."""
    xp = backend.get_array_module(x)
    if p == 1:
        return xp.zeros(shape, dtype=x.dtype)
    rng = generator if generator is not None else backend.get_rng()
    keep = rng.random(shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= p
    mask = keep.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return xp.asarray(mask)


def dropout(input, p=0.5, training=True, inplace=False, *, generator=None):
    """Inverted dropout: zero each element with probability ``p`` and scale the kept ones by 1 / (1 - p).

    The scaling keeps the expected activation unchanged, so evaluation (``training=False``) is the identity.

    Args:
        input: floating tensor of any shape.
        p: probability of zeroing an element, in [0, 1].
        training: apply dropout only when True.
        inplace: accepted for PyTorch compatibility; the output is always a new tensor.
        generator: a ``numpy.random.Generator`` for the mask; default ``cnnlab.backend.get_rng()``.

    Shape: output has the input's shape.
    """
    input = floating("dropout", "input", tensor_arg("dropout", "input", input))
    p = _check_p("dropout", p, training)
    if not training or p == 0:
        return Identity.apply(input)
    return Dropout.apply(input, mask=_mask(input._data, input.shape, p, generator))


def dropout2d(input, p=0.5, training=True, inplace=False, *, generator=None):
    """Channel dropout: zero whole channels (every value of a (sample, channel) pair) with probability ``p``.

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels hardly
    regularises a convolutional layer; dropping whole maps does. Kept channels are scaled by 1 / (1 - p).

    Args:
        input: floating tensor ``(N, C, H, W)`` (or ``(N, C, L)``, treated channel-wise as PyTorch does).
        p: probability of zeroing a channel, in [0, 1].
        training: apply dropout only when True.
        inplace: accepted for PyTorch compatibility; the output is always a new tensor.
        generator: a ``numpy.random.Generator`` for the mask; default ``cnnlab.backend.get_rng()``.

    Shape: output has the input's shape; the mask has shape ``(N, C, 1, 1)``.
    """
    input = floating("dropout2d", "input", tensor_arg("dropout2d", "input", input, ndim=(3, 4),
                                                         shape_hint="(N, C, H, W)"))
    p = _check_p("dropout2d", p, training)
    if not training or p == 0:
        return Identity.apply(input)
    shape = input.shape[:2] + (1,) * (input.ndim - 2)
    return Dropout.apply(input, mask=_mask(input._data, shape, p, generator))


def identity(input):
    """Return the input unchanged (shares memory); a placeholder layer's op."""
    if not isinstance(input, Tensor):
        input = tensor_arg("identity", "input", input)
    return Identity.apply(input)
