"""Normalisation ops: batch_norm and local_response_norm with their gradients."""


import numpy as np

from .. import backend, kernels
from ..autograd import Function
from ..validation import floating, is_int, is_real, real_arg, tensor_arg, tensor_like


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias with per-channel statistics over (N, *spatial),
    optionally followed by a ReLU (``relu=True``: one op, one pass, for the common BN -> ReLU pair).

    Training uses the batch's mean and biased variance and updates the running statistics in place;
    evaluation uses the running statistics, so the op is then an affine map per channel. Backward
    recomputes the normalised input from the input (which the graph keeps anyway) instead of saving it.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None, training=False,
                momentum=0.1, eps=1e-5, relu=False):
        ctx.kernels = kernels.for_arrays(x)
        out, mean, inv_std = ctx.kernels.batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                            training, momentum, eps, relu)
        ctx.save_for_backward(x, out if relu else None, mean, inv_std, weight)
        ctx.training, ctx.relu = training, relu
        return out

    @staticmethod
    def backward(ctx, g):
        x, out, mean, inv_std, weight = ctx.saved_tensors
        gx, gw, gb = ctx.kernels.batch_norm_backward(g, x, out, mean, inv_std, weight, ctx.training, ctx.relu)
        need = ctx.needs_input_grad
        return gx, (gw if len(need) > 1 and need[1] else None), (gb if len(need) > 2 and need[2] else None)


def _channel_vector(fn, name, value, input, same_dtype=False):
    """Unwrap an optional per-channel tensor and check it holds one value per channel (in the input's
    dtype when ``same_dtype``: the affine parameters)."""
    if value is None:
        return None
    return tensor_like(fn, name, value, input.shape[1:2], input.dtype if same_dtype else None, "input's",
                       f", one value per channel of the input (input shape {input.shape})")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over the channel axis 1 (Ioffe & Szegedy 2015), exactly as PyTorch's.

    In training the batch statistics normalise the input (biased variance) and the running statistics
    are updated in place: ``running = (1 - momentum) * running + momentum * batch`` (the unbiased batch
    variance for ``running_var``). In evaluation the running statistics normalise the input.

    Args:
        input: floating tensor ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` (any ``(N, C, *)``).
        running_mean, running_var: ``(C,)`` tensors, updated in place when training; may be None when training.
        weight, bias: optional ``(C,)`` affine parameters (gamma, beta).
        training: use batch statistics (True) or running statistics (False).
        momentum: weight of the new batch in the running statistics, in [0, 1].
        eps: added to the variance for stability.

    Shape: output has the input's shape.
    """
    return _batch_norm("batch_norm", input, running_mean, running_var, weight, bias, training, momentum, eps,
                       relu=False)


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5):
    """``relu(batch_norm(...))`` as one op: the pair that follows most convolutions, computed in one pass
    forward and one backward (no separate ReLU pass over the activations, no extra array kept).

    Arguments as ``batch_norm``.
    """
    return _batch_norm("batch_norm_relu", input, running_mean, running_var, weight, bias, training, momentum,
                       eps, relu=True)


def _batch_norm(fn, input, running_mean, running_var, weight, bias, training, momentum, eps, relu):
    input = floating(fn, "input", tensor_arg(fn, "input", input))
    if input.ndim < 2:
        raise ValueError(f"{fn}: `input` must be at least 2-D (N, C, *). Received a {input.ndim}-D tensor "
                         f"of shape {input.shape}")
    channels = input.shape[1]
    running_mean = _channel_vector(fn, "running_mean", running_mean, input)
    running_var = _channel_vector(fn, "running_var", running_var, input)
    weight = _channel_vector(fn, "weight", weight, input, same_dtype=True)
    bias = _channel_vector(fn, "bias", bias, input, same_dtype=True)
    if momentum is None:
        raise TypeError(f"{fn}: `momentum` must be a number in [0, 1]. Received: momentum=None "
                        f"(for a cumulative moving average pass momentum=1 / num_batches_tracked)")
    if not is_real(momentum) or not 0 <= momentum <= 1:
        raise ValueError(f"{fn}: `momentum` must be a number in [0, 1]. Received: momentum={momentum!r}")
    if not is_real(eps) or not eps >= 0:
        raise ValueError(f"{fn}: `eps` must be a non-negative number. Received: eps={eps!r}")
    if training:
        if input.numel() // max(channels, 1) <= 1:
            raise ValueError(f"{fn}: expected more than 1 value per channel when training. Received input shape "
                             f"{input.shape}")
    elif running_mean is None or running_var is None:
        raise ValueError(f"{fn}: `running_mean` and `running_var` must be given in evaluation mode "
                         f"(training=False). Received: running_mean="
                         f"{'None' if running_mean is None else 'tensor'}, "
                         f"running_var={'None' if running_var is None else 'tensor'}")
    stats = dict(running_mean=None if running_mean is None else running_mean._data,
                 running_var=None if running_var is None else running_var._data,
                 training=bool(training), momentum=float(momentum), eps=float(eps), relu=relu)
    if weight is None:
        if bias is None:
            return BatchNorm.apply(input, **stats)
        # Keep the positional layout (x, weight, bias): weight absent is passed as a constant None.
        return BatchNorm.apply(input, None, bias, **stats)
    return BatchNorm.apply(input, weight, bias, **stats)


def _window_sum(a, before, after, size):
    """Sum of ``a`` over channels [c - before, c + after] for every c, zero outside (axis 1).

    ``size = before + after + 1`` shifted views of one zero-padded copy are added: a loop over the
    window offsets only, each step vectorised over every sample, channel and pixel.
    """
    xp = backend.get_array_module(a)
    channels = a.shape[1]
    padded = xp.zeros((a.shape[0], channels + size - 1) + a.shape[2:], dtype=a.dtype)  # (N, C + size - 1, *)
    padded[:, before:before + channels] = a
    out = padded[:, 0:channels].copy()
    for j in range(1, size):
        out += padded[:, j:j + channels]
    return out


class LocalResponseNorm(Function):
    """b_c = a_c / (k + alpha / n * sum_{c' in window(c)} a_c'^2) ^ beta, window(c) = [c - n//2, c + (n-1)//2].

    Backward: with D = k + alpha / n * S,
    da_c = g_c D_c^-beta - (2 alpha beta / n) a_c * sum_{c' : c in window(c')} g_c' b_c' / D_c',
    and c in window(c') exactly when c' lies in [c - (n-1)//2, c + n//2] (the mirrored window).
    """

    @staticmethod
    def forward(ctx, x, size=5, alpha=1e-4, beta=0.75, k=1.0):
        denom = _window_sum(x * x, size // 2, (size - 1) // 2, size)
        denom *= alpha / size
        denom += k                                              # D, (N, C, *)
        scale = denom ** -beta
        out = x * scale
        ctx.save_for_backward(x, out, denom, scale)
        ctx.params = (size, alpha, beta)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out, denom, scale = ctx.saved_tensors
        size, alpha, beta = ctx.params
        mirrored = _window_sum(g * out / denom, (size - 1) // 2, size // 2, size)
        return g * scale - (2 * alpha * beta / size) * x * mirrored


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels (AlexNet), exactly PyTorch's formula.

    Each value is divided by ``(k + alpha / size * sum of squares over size neighbouring channels) ** beta``;
    the channel axis is zero-padded by ``size // 2`` before and ``(size - 1) // 2`` after.

    Args:
        input: floating tensor ``(N, C, *)`` with at least 3 dimensions.
        size: number of neighbouring channels in the sum (including the channel itself).
        alpha, beta, k: the formula's constants.

    Shape: output has the input's shape.
    """
    fn = "local_response_norm"
    input = floating(fn, "input", tensor_arg(fn, "input", input))
    if input.ndim < 3:
        raise ValueError(f"{fn}: `input` must be at least 3-D (N, C, *). Received a {input.ndim}-D tensor "
                         f"of shape {input.shape}")
    if not is_int(size) or size < 1:
        raise ValueError(f"{fn}: `size` must be a positive int. Received: size={size!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        real_arg(fn, name, value, finite=True)
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))

