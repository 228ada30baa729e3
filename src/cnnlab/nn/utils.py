"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``."""

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import real_arg


def _grads(fn, parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    try:
        parameters = list(parameters)
    except TypeError:
        raise TypeError(f"{fn}: `parameters` must be a Tensor or an iterable of Tensors. "
                        f"Received an object of type {type(parameters).__name__}") from None
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: `parameters` must hold Tensors. Received an object of type "
                            f"{type(p).__name__} at position {i}")
    return [p.grad for p in parameters if p.grad is not None]


def _norm(xp, a, norm_type):
    if math.isinf(norm_type):
        return xp.abs(a).max() if norm_type > 0 else xp.abs(a).min()
    if norm_type == 2:
        return xp.sqrt((a * a).sum())
    return (xp.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place so that their joint ``norm_type`` norm is at most ``max_norm``.

    The joint norm is the norm of the per-parameter norms (as if all gradients were one vector);
    every gradient is multiplied by ``min(1, max_norm / (total + 1e-6))``, as PyTorch does.
    ``foreach`` is accepted for PyTorch's signature and has no effect.

    Returns:
        The total norm before clipping, a 0-d tensor (``0.`` when no parameter has a gradient).

    Example:
        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    fn = "clip_grad_norm_"
    grads = _grads(fn, parameters)
    max_norm = real_arg(fn, "max_norm", max_norm, low=0)
    norm_type = real_arg(fn, "norm_type", norm_type, low=0, low_open=True)  # inf allowed
    if not grads:
        return Tensor(0.0)
    xp = backend.get_array_module(grads[0]._data)
    norms = xp.stack([_norm(xp, g._data, norm_type) for g in grads])   # one norm per parameter
    total = _norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"{fn}: the total norm of order {norm_type} of the gradients is "
                           f"{float(total)}, so it cannot be clipped. "
                           f"Pass error_if_nonfinite=False to scale by it anyway")
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # an infinite norm: coef 0 and inf * 0 = nan, as PyTorch
        for g in grads:
            g._data *= g._data.dtype.type(coef)
    return Tensor._wrap(xp.asarray(total))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient in place to ``[-clip_value, clip_value]``; returns None, as PyTorch."""
    fn = "clip_grad_value_"
    grads = _grads(fn, parameters)
    clip_value = real_arg(fn, "clip_value", clip_value, low=0)
    for g in grads:
        xp = backend.get_array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
