"""Weight initialisation, as ``torch.nn.init``: fill a tensor in place and return it.

Every draw comes from ``cnnlab.backend.get_rng()`` (or the ``generator`` passed in), so
``cnnlab.manual_seed(n)`` makes construction repeatable. The functions write into ``tensor.data``
directly, so no graph is recorded (the equivalent of PyTorch's ``no_grad``).

The variance-preserving schemes keep the variance of activations (Glorot & Bengio: Xavier) or of
ReLU activations (He et al.: Kaiming) the same from layer to layer:
    xavier: std = gain * sqrt(2 / (fan_in + fan_out))
    kaiming: std = gain / sqrt(fan),  gain = sqrt(2 / (1 + a^2)) for leaky_relu with slope a
and a uniform distribution U(-b, b) has std b / sqrt(3), so the uniform variants use b = sqrt(3) * std.
"""

import math
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import is_real, real_arg

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
_NONLINEARITIES = _LINEAR + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")


def _array(fn, tensor):
    if isinstance(tensor, Tensor):
        return tensor._data
    if isinstance(tensor, np.ndarray) or hasattr(tensor, "__cuda_array_interface__"):
        return tensor
    raise TypeError(f"{fn}: `tensor` must be a Tensor or Parameter. Received an object of type "
                    f"{type(tensor).__name__}")


def _write(fn, tensor, values):
    """Copy ``values`` (a NumPy array drawn on the host) into the tensor's array, in its dtype and place."""
    a = _array(fn, tensor)
    if a.dtype.kind != "f":
        raise TypeError(f"{fn}: `tensor` must be floating (float32 or float64). Received dtype {a.dtype}")
    xp = backend.get_array_module(a)
    a[...] = xp.asarray(values).astype(a.dtype, copy=False)
    return tensor


def _rng(generator):
    return backend.get_rng() if generator is None else generator


FILL_CHUNK = 1 << 16   # values drawn at a time: the float64 draw of a whole large kernel (19 MB for
                       # 512x512x3x3) stayed resident after construction, glibc keeping the freed heap


def _fill(fn, tensor, draw):
    """Write ``draw(count)`` (float64 draws from the generator) into the tensor, FILL_CHUNK values at
    a time when it is contiguous. Same values as one whole draw: the generator's streams are
    sequential, a chunk taking the values the whole draw would have given at its place."""
    a = _array(fn, tensor)
    if a.dtype.kind != "f":
        raise TypeError(f"{fn}: `tensor` must be floating (float32 or float64). Received dtype {a.dtype}")
    if not a.flags.c_contiguous or a.size <= FILL_CHUNK:
        return _write(fn, tensor, draw(a.shape))
    xp = backend.get_array_module(a)
    flat = a.reshape(-1)
    for start in range(0, a.size, FILL_CHUNK):
        stop = min(start + FILL_CHUNK, a.size)
        flat[start:stop] = xp.asarray(draw(stop - start))
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended scale of the weights for a nonlinearity (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2)) with slope
    ``param`` (default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif is_real(param):
            slope = param
        else:
            raise ValueError(f"calculate_gain: `param` (the negative slope) must be a number. "
                             f"Received: param={param!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported `nonlinearity`. Received: nonlinearity={nonlinearity!r}; "
                     f"expected one of {', '.join(_NONLINEARITIES)}")


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight: in/out features times the kernel area.

    Shape: a weight of shape (out, in, *kernel) has fan_in = in * prod(kernel), fan_out = out * prod(kernel).
    """
    shape = tuple(_array("calculate_fan_in_and_fan_out", tensor).shape)
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: fan in and fan out can not be computed for a tensor with "
                         f"fewer than 2 dimensions. Received a tensor of shape {shape}")
    receptive = 1
    for n in shape[2:]:
        receptive *= n
    return shape[1] * receptive, shape[0] * receptive


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out


def _correct_fan(fn, tensor, mode):
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: `mode` must be 'fan_in' or 'fan_out'. Received: mode={mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _empty(fn, tensor):
    if _array(fn, tensor).size == 0:
        warnings.warn(f"{fn}: initializing a zero-element tensor is a no-op", stacklevel=3)
        return True
    return False


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b)."""
    a, b = real_arg("uniform_", "a", a), real_arg("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: `a` must not exceed `b`. Received: a={a}, b={b}")
    rng = _rng(generator)
    return _fill("uniform_", tensor, lambda size: rng.uniform(a, b, size=size))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std^2)."""
    mean, std = real_arg("normal_", "mean", mean), real_arg("normal_", "std", std)
    if std < 0:
        raise ValueError(f"normal_: `std` must be non-negative. Received: std={std}")
    rng = _rng(generator)
    return _fill("normal_", tensor, lambda size: rng.normal(mean, std, size=size))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with draws from N(mean, std^2) restricted to [a, b] (out-of-range draws are redrawn)."""
    fn = "trunc_normal_"
    mean, std, a, b = (real_arg(fn, n, v) for n, v in (("mean", mean), ("std", std), ("a", a), ("b", b)))
    if std < 0 or a > b:
        raise ValueError(f"{fn}: need std >= 0 and a <= b. Received: std={std}, a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(f"{fn}: mean is more than 2 std from [a, b]; the distribution of values may be incorrect",
                      stacklevel=2)
    rng = _rng(generator)
    shape = _array(fn, tensor).shape
    values = rng.normal(mean, std, size=shape)
    # Rejection sampling, vectorised: redraw only the entries that fell outside.
    for _ in range(1000):
        bad = (values < a) | (values > b)
        count = int(bad.sum())
        if count == 0:
            break
        values[bad] = rng.normal(mean, std, size=count)
    return _write(fn, tensor, np.clip(values, a, b))


def constant_(tensor, val):
    """Fill with the value ``val``."""
    real_arg("constant_", "val", val)
    a = _array("constant_", tensor)
    a[...] = val
    return tensor


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    if _empty("xavier_uniform_", tensor):
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = real_arg("xavier_uniform_", "gain", gain) * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    if _empty("xavier_normal_", tensor):
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = real_arg("xavier_normal_", "gain", gain) * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(fn, tensor, a, mode, nonlinearity):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{fn}: unsupported `nonlinearity`. Received: nonlinearity={nonlinearity!r}; "
                         f"expected one of {', '.join(_NONLINEARITIES)}")
    fan = _correct_fan(fn, tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan), gain from ``nonlinearity`` and slope ``a``.

    Conv2d and Linear use ``a=sqrt(5)`` by default, which gives b = 1 / sqrt(fan_in).
    """
    if _empty("kaiming_uniform_", tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    if _empty("kaiming_normal_", tensor):
        return tensor
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    return normal_(tensor, 0.0, std, generator)


__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "trunc_normal_", "constant_",
           "zeros_", "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]
