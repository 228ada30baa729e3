"""Normalisation ops: batch_norm and local_response_norm with their gradients."""

import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ._im2col import as_layout, batch_slices, is_channels_last, parallel_map
from ._im2col import ones as _ones
from ._validate import floating, tensor_arg


def _channel_shape(ndim):
    """Broadcast shape of a per-channel vector against an (N, C, *) input: (1, C, 1, ...)."""
    return (1, -1) + (1,) * (ndim - 2)


def _channel_sum(*arrays):
    """Per-channel sum of the element-wise product of ``arrays`` (N, C, *) -> (C,), without temporaries.

    One array: a matrix-vector product with a vector of ones (BLAS reads the data once, on every core),
    over the (pixels, C) view of channels-last memory or the (N*C, pixels) view of NCHW memory; many
    times faster than ``sum(axis=(0, 2, 3))``. Several arrays: ``einsum``, which reads the operands once
    and never materialises the product.
    """
    xp = backend.get_array_module(*arrays)
    a = arrays[0]
    if len(arrays) == 1 and a.ndim == 4 and a.size:
        n, c = a.shape[:2]
        if is_channels_last(a):
            rows = a.transpose(0, 2, 3, 1).reshape(-1, c)                 # (N*H*W, C) view
            return _ones(xp, rows.shape[0], a.dtype) @ rows
        if a.flags.c_contiguous:
            planes = a.reshape(n, c, -1)                                   # (N, C, H*W) view
            return (planes @ _ones(xp, planes.shape[2], a.dtype)).sum(axis=0)
    letters = "".join(chr(ord("a") + i) for i in range(a.ndim))
    return xp.einsum(",".join([letters] * len(arrays)) + "->" + letters[1], *arrays)


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias with per-channel statistics over (N, *spatial).

    Training uses the batch's mean and biased variance and updates the running statistics in place;
    evaluation uses the running statistics, so the op is then an affine map per channel. Backward
    recomputes the centred input from the input (which the graph keeps anyway) instead of saving the
    normalised input: one activation-sized array less per layer.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None, training=False,
                momentum=0.1, eps=1e-5):
        xp = backend.get_array_module(x)
        cshape = _channel_shape(x.ndim)
        count = x.size // x.shape[1]                           # values per channel
        if training:
            # Large inputs are split over the batch between threads: partial sums, then the same
            # element-wise steps on each slice (NumPy's loops use one core each).
            slices = batch_slices(x)
            mean = sum(parallel_map(lambda s: _channel_sum(x[s]), slices)) / count      # (C,)
            out = xp.empty_like(x)                               # x's memory layout

            def centre(s):                                      # centred; becomes the output in place
                xp.subtract(x[s], mean.reshape(cshape), out=out[s])
                return _channel_sum(out[s], out[s])

            var = sum(parallel_map(centre, slices, blas=False)) / count   # (C,), biased: normalises the batch
            inv_std = 1.0 / xp.sqrt(var + eps)                  # (C,)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                unbiased = var * (count / (count - 1))          # PyTorch tracks the unbiased variance
                running_var *= 1 - momentum
                running_var += (momentum * unbiased).astype(running_var.dtype, copy=False)
            scale = (inv_std if weight is None else inv_std * weight).reshape(cshape)

            def affine(s):
                out[s] *= scale
                if bias is not None:
                    out[s] += bias.reshape(cshape)

            parallel_map(affine, slices, blas=False)
            ctx.save_for_backward(x, mean, inv_std, weight)
        else:
            inv_std = 1.0 / xp.sqrt(running_var.astype(x.dtype) + eps)       # (C,)
            mean = running_mean.astype(x.dtype)                                # (C,)
            scale = inv_std if weight is None else inv_std * weight            # (C,)
            shift = -mean * scale if bias is None else bias - mean * scale     # (C,)
            out = xp.empty_like(x)

            def affine(s):
                xp.multiply(x[s], scale.reshape(cshape), out=out[s])
                out[s] += shift.reshape(cshape)

            parallel_map(affine, batch_slices(x), blas=False)
            ctx.save_for_backward(x, mean, inv_std, scale)
        ctx.training, ctx.count, ctx.cshape = training, count, cshape
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_w = ctx.needs_input_grad[0], len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]
        need_b = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        cshape, n = ctx.cshape, ctx.count
        gx = gw = gb = None
        if ctx.training:
            x, mean, inv_std, weight = ctx.saved_tensors
            xp = backend.get_array_module(g)
            if x.ndim == 4:
                g = as_layout(g, is_channels_last(x))
            slices = batch_slices(x)

            def sums(s):
                centred = x[s] - mean.reshape(cshape)
                return _channel_sum(g[s]), _channel_sum(g[s], centred), centred

            parts = parallel_map(sums, slices)
            sum_g = sum(p[0] for p in parts)                    # (C,) = d bias
            sum_gxhat = sum(p[1] for p in parts) * inv_std      # (C,) = d weight
            if need_x:
                # With dxhat = g * weight the full gradient through mean and variance is
                # dx = inv_std / N * (N dxhat - sum(dxhat) - xhat sum(dxhat xhat));
                # weight factors out of both sums: dx = weight inv_std (g - mean(g) - xhat mean(g xhat)).
                scale = inv_std if weight is None else inv_std * weight
                k_centred = (-scale * inv_std * sum_gxhat / n).reshape(cshape)    # -scale xhat mean(g xhat) / xc
                shift = (scale * sum_g / n).reshape(cshape)
                gx = xp.empty_like(x)

                def finish(i):
                    s, centred = slices[i], parts[i][2]
                    centred *= k_centred
                    xp.multiply(g[s], scale.reshape(cshape), out=gx[s])
                    gx[s] += centred
                    gx[s] -= shift

                parallel_map(finish, range(len(slices)), blas=False)
            gw, gb = sum_gxhat, sum_g
        else:
            x, mean, inv_std, scale = ctx.saved_tensors
            if need_x:
                gx = g * scale.reshape(cshape)
            if need_w:
                gw = _channel_sum(g, x - mean.reshape(cshape)) * inv_std     # sum g (x - mean) / std
            if need_b:
                gb = _channel_sum(g)
        return gx, (gw if need_w else None), (gb if need_b else None)


def _channel_vector(fn, name, value, channels, input_shape):
    """Unwrap an optional per-channel tensor and check it holds one value per channel."""
    if value is None:
        return None
    value = tensor_arg(fn, name, value)
    if value.shape != (channels,):
        raise ValueError(f"{fn}: `{name}` must have shape ({channels},), one value per channel of the input "
                         f"(input shape {input_shape}). Received {name} shape {value.shape}")
    return value


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
    fn = "batch_norm"
    input = floating(fn, "input", tensor_arg(fn, "input", input))
    if input.ndim < 2:
        raise ValueError(f"{fn}: `input` must be at least 2-D (N, C, *). Received a {input.ndim}-D tensor "
                         f"of shape {input.shape}")
    channels = input.shape[1]
    running_mean = _channel_vector(fn, "running_mean", running_mean, channels, input.shape)
    running_var = _channel_vector(fn, "running_var", running_var, channels, input.shape)
    weight = _channel_vector(fn, "weight", weight, channels, input.shape)
    bias = _channel_vector(fn, "bias", bias, channels, input.shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{fn}: `{name}` must have the input's dtype {input.dtype}. Received dtype {t.dtype}")
    if momentum is None:
        raise TypeError(f"{fn}: `momentum` must be a number in [0, 1]. Received: momentum=None "
                        f"(for a cumulative moving average pass momentum=1 / num_batches_tracked)")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"{fn}: `momentum` must be a number in [0, 1]. Received: momentum={momentum!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{fn}: `eps` must be a non-negative number. Received: eps={eps!r}")
    if training:
        if input.size // max(channels, 1) <= 1:
            raise ValueError(f"{fn}: expected more than 1 value per channel when training. Received input shape "
                             f"{input.shape}")
    elif running_mean is None or running_var is None:
        raise ValueError(f"{fn}: `running_mean` and `running_var` must be given in evaluation mode "
                         f"(training=False). Received: running_mean="
                         f"{'None' if running_mean is None else 'tensor'}, "
                         f"running_var={'None' if running_var is None else 'tensor'}")
    stats = dict(running_mean=None if running_mean is None else running_mean.data,
                 running_var=None if running_var is None else running_var.data,
                 training=bool(training), momentum=float(momentum), eps=float(eps))
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
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"{fn}: `size` must be a positive int. Received: size={size!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise TypeError(f"{fn}: `{name}` must be a finite real number. Received: {name}={value!r}")
    if input.size == 0:
        return input
    return LocalResponseNorm.apply(input, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))

