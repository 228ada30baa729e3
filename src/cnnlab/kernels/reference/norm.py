"""Batch normalisation (reference): the textbook formulas over NumPy or CuPy, forward and backward.

x is (N, C, *); statistics are per channel over every other axis. With xhat = (x - mean) * inv_std and
y = weight * xhat + bias (optionally followed by a ReLU), the backward in training is

    dx = weight * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat)),

the means per channel (the two extra terms are the paths through the batch mean and variance); in
evaluation the statistics are constants and dx = weight * inv_std * dy.
"""

from ... import backend
from ._layout import in_layout

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def _axes_and_shape(x):
    """The axes a channel's statistics run over, and the shape a (C,) vector broadcasts with."""
    return (0,) + tuple(range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def update_running_stats(running_mean, running_var, mean, var, count, momentum):
    """running = (1 - momentum) * running + momentum * batch, in place; ``var`` is the batch's biased
    variance over ``count`` values, tracked unbiased (times count / (count - 1)) as PyTorch does.
    Either running statistic may be None (not tracked)."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += (momentum * mean).astype(running_mean.dtype)
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps, relu=False):
    """-> (out, mean, inv_std). Training normalises with the batch's mean and biased variance and updates
    the running statistics in place (PyTorch's rule: the unbiased variance is tracked); evaluation uses
    the running statistics. ``weight``/``bias``/running statistics may be None; ``relu`` applies
    max(y, 0) to the output."""
    xp = backend.get_array_module(x)
    axes, vec = _axes_and_shape(x)
    if training:
        count = x.size // x.shape[1]
        mean = x.mean(axis=axes)                                          # (C,)
        var = x.var(axis=axes)                                            # (C,), biased
        update_running_stats(running_mean, running_var, mean, var, count, momentum)
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = (1 / xp.sqrt(var + eps)).astype(x.dtype)
    out = (x - mean.reshape(vec)) * inv_std.reshape(vec)                  # xhat
    if weight is not None:
        out = out * weight.reshape(vec)
    if bias is not None:
        out = out + bias.reshape(vec)
    if relu:
        out = xp.maximum(out, 0)
    return in_layout(out, x), mean, inv_std


def batch_norm_backward(g, x, out, mean, inv_std, weight, training, relu=False):
    """-> (dx, dweight, dbias). ``out`` is the forward's output (only read when ``relu``: the ReLU
    blocks the gradient where it is <= 0)."""
    axes, vec = _axes_and_shape(x)
    if relu:                                   # no gradient where the ReLU's output is <= 0
        g = backend.get_array_module(g).where(out <= 0, 0, g)
    xhat = (x - mean.reshape(vec)) * inv_std.reshape(vec)
    gbias = g.sum(axis=axes)                                              # (C,)
    gweight = (g * xhat).sum(axis=axes)                                   # (C,)
    scale = inv_std if weight is None else weight * inv_std               # (C,)
    if training:
        count = x.size // x.shape[1]
        mean_g, mean_gxhat = (gbias / count).reshape(vec), (gweight / count).reshape(vec)
        gx = scale.reshape(vec) * (g - mean_g - xhat * mean_gxhat)
    else:
        gx = scale.reshape(vec) * g
    return in_layout(gx.astype(x.dtype, copy=False), x), gweight, gbias

