"""Activation layers: ReLU, LeakyReLU, ELU, Hardtanh, ReLU6, Sigmoid, Tanh, Softmax, LogSoftmax.

``inplace`` is accepted for PyTorch compatibility and ignored: the output is always a new tensor
(in-place updates would destroy values the backward pass needs).
"""

from ..functional import activation as Fact
from ..validation import real_arg
from .module import Module


class _ElementwiseActivation(Module):
    """An element-wise activation with no parameters; ``inplace`` is accepted for PyTorch
    compatibility and ignored. Subclasses name the functional op in ``_fn``."""

    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return getattr(Fact, self._fn)(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_ElementwiseActivation):
    """max(x, 0) element-wise.

    Args:
        inplace: accepted for PyTorch compatibility and ignored.

    Shape: output has the input's shape.
    """

    _fn = "relu"


class LeakyReLU(Module):
    """x for x > 0 and ``negative_slope * x`` otherwise.

    Args:
        negative_slope: slope for negative inputs. Default: 0.01.
        inplace: accepted for PyTorch compatibility and ignored.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        real_arg("LeakyReLU", "negative_slope", negative_slope)
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return Fact.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0 and ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the value the output tends to for very negative x is -alpha. Default: 1.0.
        inplace: accepted for PyTorch compatibility and ignored.
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        real_arg("ELU", "alpha", alpha)
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return Fact.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """Clip to ``[min_val, max_val]``.

    Args:
        min_val, max_val: the interval. Default: [-1, 1].
        inplace: accepted for PyTorch compatibility and ignored.
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        real_arg("Hardtanh", "min_val", min_val)
        real_arg("Hardtanh", "max_val", max_val)
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: `max_val` must be greater than `min_val`. Received: min_val={min_val}, "
                             f"max_val={max_val}")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return Fact.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


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


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``: each slice along ``dim`` becomes a probability vector.

    Args:
        dim: the axis that sums to 1. ``None`` picks PyTorch's legacy choice (0 for 0-, 1- and 3-D
            inputs, else 1) with a warning.
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return Fact.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably (pair it with NLLLoss).

    Args:
        dim: the axis that is normalised (``None``: PyTorch's legacy choice, with a warning).
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return Fact.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class SiLU(_ElementwiseActivation):
    """``x * sigmoid(x)`` element-wise (swish), EfficientNet's activation.

    Args:
        inplace: accepted for PyTorch compatibility and ignored.

    Shape: output has the input's shape.
    """

    _fn = "silu"


class Hardswish(_ElementwiseActivation):
    """``x * relu6(x + 3) / 6`` element-wise, MobileNetV3's activation.

    Args:
        inplace: accepted for PyTorch compatibility and ignored.

    Shape: output has the input's shape.
    """

    _fn = "hardswish"
