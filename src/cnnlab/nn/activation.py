"""Activation layers: ReLU, LeakyReLU, ELU, Hardtanh, ReLU6, Sigmoid, Tanh, Softmax, LogSoftmax.

``inplace`` is accepted for PyTorch compatibility and ignored: the output is always a new tensor
(in-place updates would destroy values the backward pass needs).
"""

from ..functional import activation as Fact
from ..validation import set_real_args
from .module import Module


class _ElementwiseActivation(Module):
    """An element-wise activation; ``inplace`` is accepted for PyTorch compatibility and ignored.

    Subclasses name the functional op in ``_fn`` and pass its real-valued arguments by keyword: each is
    checked to be a real number, kept as given, passed to the op in that order and shown by ``repr``
    before ``inplace=True`` (as PyTorch prints ``LeakyReLU(negative_slope=0.3, inplace=True)``).
    """

    _fn = None

    def __init__(self, inplace=False, **params):
        super().__init__()
        set_real_args(self, type(self).__name__, **params)
        self._params = tuple(params)
        self.inplace = inplace

    def forward(self, input):
        return getattr(Fact, self._fn)(input, *(getattr(self, name) for name in self._params))

    def extra_repr(self):
        shown = [f"{name}={getattr(self, name)}" for name in self._params] + (["inplace=True"] if self.inplace else [])
        return ", ".join(shown)


class ReLU(_ElementwiseActivation):
    """max(x, 0) element-wise. ``inplace`` is accepted and ignored."""

    _fn = "relu"


class LeakyReLU(_ElementwiseActivation):
    """x for x > 0 and ``negative_slope * x`` otherwise (Maas et al. 2013).

    Negative inputs keep a small gradient, so a unit cannot stop learning as a ReLU's can when
    all its inputs are negative. ``negative_slope`` defaults to 0.01.
    """

    _fn = "leaky_relu"

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace, negative_slope=negative_slope)


class ELU(_ElementwiseActivation):
    """x for x > 0 and ``alpha * (exp(x) - 1)`` otherwise (Clevert et al. 2016).

    Smooth at 0 and saturating at ``-alpha`` (default 1.0) for very negative x, which brings the
    mean activation nearer zero.
    """

    _fn = "elu"

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace, alpha=alpha)


class Hardtanh(_ElementwiseActivation):
    """Clip to ``[min_val, max_val]``.

    Args:
        min_val, max_val: the interval. Default: [-1, 1].
    """

    _fn = "hardtanh"

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace, min_val=min_val, max_val=max_val)
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: `max_val` must be greater than `min_val`. Received: min_val={min_val}, "
                             f"max_val={max_val}")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6), the bounded ReLU of MobileNet."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """1 / (1 + exp(-x)) element-wise."""

    def forward(self, input):
        return Fact.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent element-wise."""

    def forward(self, input):
        return Fact.tanh(input)


class _NormalizeAlongDim(Module):
    """Softmax and LogSoftmax: the functional op named in ``_fn``, applied along ``dim``."""

    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return getattr(Fact, self._fn)(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_NormalizeAlongDim):
    """exp(x_i) / sum_j exp(x_j) along ``dim``: each slice along ``dim`` becomes a probability vector.

    Args:
        dim: the axis that sums to 1. ``None`` picks PyTorch's legacy choice (0 for 0-, 1- and 3-D
            inputs, else 1) with a warning.
    """

    _fn = "softmax"


class LogSoftmax(_NormalizeAlongDim):
    """log(softmax(x)) along ``dim``, computed stably (pair it with NLLLoss).

    Args:
        dim: the axis that is normalised (``None``: PyTorch's legacy choice, with a warning).
    """

    _fn = "log_softmax"


class SiLU(_ElementwiseActivation):
    """``x * sigmoid(x)`` element-wise (swish), EfficientNet's activation. ``inplace`` is accepted and ignored."""

    _fn = "silu"


class Hardswish(_ElementwiseActivation):
    """``x * relu6(x + 3) / 6`` element-wise, MobileNetV3's activation. ``inplace`` is accepted and ignored."""

    _fn = "hardswish"

    def extra_repr(self):
        return ""                           # PyTorch's Hardswish never prints inplace
