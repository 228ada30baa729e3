"""Normalisation ops: batch_norm and local_response_norm with their gradients."""


import numpy as np

from .. import backend
from ..autograd import Function
from ..validation import floating, is_int, is_real, real_arg, tensor_arg
from ._im2col import as_layout, batch_slices, is_channels_last, parallel_map
from ._im2col import ones as _ones


class _Planes:
    """Per-channel arithmetic on an (N, C, *) array through a 3-D view with long inner loops.

    ``view(a)`` is (N, P, Q) and ``spread(v)`` turns a per-channel (C,) vector into a (P, Q) array that
    broadcasts against it, so that NumPy's innermost loop runs over Q: all H*W*C values of an image for
    channels-last memory (the per-channel vector repeated H*W times), the H*W values of a plane for
    NCHW memory. Broadcasting a (1, C, 1, 1) vector over channels-last memory instead runs an inner loop
    of C values per pixel, several times slower. ``total(r)`` folds a (P, Q) sum back to (C,).
    Arrays given to ``view`` must have the layout of the array the planes were made for.
    """

    def __init__(self, x):
        self.n, self.c = x.shape[0], x.shape[1]
        self.channels_last = x.ndim == 4 and is_channels_last(x)
        if self.channels_last:
            self.p, self.q, self.reps = 1, x.shape[2] * x.shape[3] * self.c, x.shape[2] * x.shape[3]
        elif x.ndim == 2:                   # (N, C): the channels are the inner axis already
            self.p, self.q, self.reps = 1, self.c, 1
        else:
            self.p, self.q, self.reps = self.c, x.size // max(self.n * self.c, 1), None

    def like(self, a):
        """``a`` in the memory layout the views expect (a copy only if it differs)."""
        if a.ndim == 4:
            a = as_layout(a, self.channels_last)
        if not self.channels_last and not a.flags.c_contiguous:
            a = backend.get_array_module(a).ascontiguousarray(a)
        return a

    def view(self, a):
        if self.channels_last:
            return a.transpose(0, 2, 3, 1).reshape(a.shape[0], 1, self.q)   # (N, 1, H*W*C)
        return a.reshape(a.shape[0], self.p, self.q)                         # (N, C, H*W) or (N, 1, C)

    def spread(self, v):
        xp = backend.get_array_module(v)
        if self.reps is None:
            return v.reshape(self.c, 1)                                      # (C, 1)
        return xp.tile(v, self.reps).reshape(1, self.q)                     # (1, H*W*C) or (1, C)

    def total(self, r):
        """(P, Q) partial sums -> (C,)."""
        if self.reps is None:
            return r.sum(axis=1)
        return r.reshape(self.reps, self.c).sum(axis=0)

    def sum(self, a):
        """Per-channel sum of view ``a`` (N, P, Q): BLAS sums the images (one matrix-vector product, reading
        the data once), then the (P, Q) partial sums fold to (C,)."""
        xp = backend.get_array_module(a)
        n = a.shape[0]
        return self.total((_ones(xp, n, a.dtype) @ a.reshape(n, -1)).reshape(self.p, self.q))

    def dot(self, a, b):
        """Per-channel sum of ``a * b`` over views (N, P, Q), without materialising the product."""
        return self.total(backend.get_array_module(a).einsum("npq,npq->pq", a, b))


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias with per-channel statistics over (N, *spatial).

    Training uses the batch's mean and biased variance and updates the running statistics in place;
    evaluation uses the running statistics, so the op is then an affine map per channel. Backward
    recomputes the centred input from the input (which the graph keeps anyway) instead of saving the
    normalised input: one activation-sized array less per layer. The arithmetic runs on ``_Planes``
    views, split over the batch between threads for large inputs.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None, training=False,
                momentum=0.1, eps=1e-5):
        xp = backend.get_array_module(x)
        count = x.size // x.shape[1]                           # values per channel
        planes = _Planes(x)
        x = planes.like(x)
        xv = planes.view(x)                                    # (N, P, Q)
        out = xp.empty_like(x)
        ov = planes.view(out)
        slices = batch_slices(x)
        if training:
            mean = sum(parallel_map(lambda s: planes.sum(xv[s]), slices)) / count          # (C,)
            mean_s = planes.spread(mean)

            def centre(s):                                      # centred; becomes the output in place
                xp.subtract(xv[s], mean_s, out=ov[s])
                return planes.dot(ov[s], ov[s])

            var = sum(parallel_map(centre, slices, blas=False)) / count   # (C,), biased: normalises the batch
            inv_std = 1.0 / xp.sqrt(var + eps)                  # (C,)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                unbiased = var * (count / (count - 1))          # PyTorch tracks the unbiased variance
                running_var *= 1 - momentum
                running_var += (momentum * unbiased).astype(running_var.dtype, copy=False)
            scale = planes.spread(inv_std if weight is None else inv_std * weight)
            shift = None if bias is None else planes.spread(bias)

            def affine(s):
                ov[s] *= scale
                if shift is not None:
                    ov[s] += shift

            parallel_map(affine, slices, blas=False)
            ctx.save_for_backward(x, mean, inv_std, weight)
        else:
            inv_std = 1.0 / xp.sqrt(running_var.astype(x.dtype) + eps)       # (C,)
            mean = running_mean.astype(x.dtype)                                # (C,)
            scale = inv_std if weight is None else inv_std * weight            # (C,)
            shift = -mean * scale if bias is None else bias - mean * scale     # (C,)
            scale_s, shift_s = planes.spread(scale), planes.spread(shift)

            def affine(s):
                xp.multiply(xv[s], scale_s, out=ov[s])
                ov[s] += shift_s

            parallel_map(affine, slices, blas=False)
            ctx.save_for_backward(x, mean, inv_std, scale)
        ctx.training, ctx.count, ctx.planes = training, count, planes
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_w = ctx.needs_input_grad[0], len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]
        need_b = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        planes, n = ctx.planes, ctx.count
        xp = backend.get_array_module(g)
        g = planes.like(g)
        gv = planes.view(g)
        gx = gw = gb = None
        if ctx.training:
            x, mean, inv_std, weight = ctx.saved_tensors
            xv = planes.view(x)
            slices = batch_slices(x)
            mean_s = planes.spread(mean)

            def sums(s):
                centred = xv[s] - mean_s
                return planes.sum(gv[s]), planes.dot(gv[s], centred), centred

            parts = parallel_map(sums, slices)
            sum_g = sum(p[0] for p in parts)                    # (C,) = d bias
            sum_gxhat = sum(p[1] for p in parts) * inv_std      # (C,) = d weight
            if need_x:
                # With dxhat = g * weight the full gradient through mean and variance is
                # dx = inv_std / N * (N dxhat - sum(dxhat) - xhat sum(dxhat xhat));
                # weight factors out of both sums: dx = weight inv_std (g - mean(g) - xhat mean(g xhat)).
                scale = inv_std if weight is None else inv_std * weight
                k_centred = planes.spread(-scale * inv_std * sum_gxhat / n)   # -scale xhat mean(g xhat) / xc
                shift = planes.spread(scale * sum_g / n)
                scale = planes.spread(scale)
                gx = xp.empty_like(x)
                gxv = planes.view(gx)

                def finish(i):
                    s, centred = slices[i], parts[i][2]
                    centred *= k_centred
                    xp.multiply(gv[s], scale, out=gxv[s])
                    gxv[s] += centred
                    gxv[s] -= shift

                parallel_map(finish, range(len(slices)), blas=False)
            gw, gb = sum_gxhat, sum_g
        else:
            x, mean, inv_std, scale = ctx.saved_tensors
            xv = planes.view(x)
            if need_x:
                gx = xp.empty_like(x)
                xp.multiply(gv, planes.spread(scale), out=planes.view(gx))
            if need_w:
                gw = planes.dot(gv, xv - planes.spread(mean)) * inv_std     # sum g (x - mean) / std
            if need_b:
                gb = planes.sum(gv)
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
    if not is_int(size) or size < 1:
        raise ValueError(f"{fn}: `size` must be a positive int. Received: size={size!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        real_arg(fn, name, value, finite=True)
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))

