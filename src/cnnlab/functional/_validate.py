"""Argument checks shared by the ops: one wording for every error (function, argument, value, expectation)."""

import numbers

from ..tensor import Tensor


def pair(fn, name, value, minimum=1):
    """Normalise an int or a pair of ints to a pair, checking each is an integer >= ``minimum``.

    ``pair("conv2d", "stride", (0, 1))`` raises
    ``ValueError: conv2d: `stride` must be a positive int or a pair of positive ints. Received: stride=(0, 1)``.
    """
    kind = {1: "positive int", 0: "non-negative int"}.get(minimum, f"int >= {minimum}")
    message = f"{fn}: `{name}` must be a {kind} or a pair of {kind}s. Received: {name}={value!r}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        value = (int(value[0]), int(value[1]))
    else:
        raise (TypeError if not isinstance(value, (numbers.Integral, tuple, list)) else ValueError)(message)
    if value[0] < minimum or value[1] < minimum:
        raise ValueError(message)
    return value


def tensor_arg(fn, name, value, ndim=None, shape_hint=None):
    """Check ``value`` is a Tensor (arrays are wrapped) with ``ndim`` dimensions."""
    if not isinstance(value, Tensor):
        if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
            value = Tensor(value)
        else:
            raise TypeError(f"{fn}: `{name}` must be a Tensor. Received an object of type {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            hint = f" {shape_hint}" if shape_hint else ""
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{fn}: `{name}` must be {want}{hint}. Received a {value.ndim}-D tensor of shape {value.shape}")
    return value


def floating(fn, name, t):
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: `{name}` must be a floating tensor (float32 or float64). Received dtype {t.dtype}")
    return t
