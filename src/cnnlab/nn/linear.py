"""``Linear``: the fully connected layer y = x W^T + b."""

import math

from ..functional import basic as Fbasic
from . import init
from ..validation import bool_arg, int_arg
from .module import Module
from .parameter import _empty_parameter


class Linear(Module):
    """Fully connected layer: ``y = x W^T + b`` on the last axis.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias. Default: True.
        device, dtype: where and in which floating dtype the parameters live (default: CPU, the default dtype).

    Attributes:
        weight: ``(out_features, in_features)``, initialised U(-1/sqrt(in_features), 1/sqrt(in_features))
            (``kaiming_uniform_`` with a=sqrt(5), as PyTorch).
        bias: ``(out_features,)``, initialised from the same range.

    Shape: ``(*, in_features) -> (*, out_features)``.

    Example:
        >>> Linear(20, 30)(cnnlab.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = int_arg("Linear", "in_features", in_features, minimum=0)
        self.out_features = int_arg("Linear", "out_features", out_features, minimum=0)
        bool_arg("Linear", "bias", bias)
        self.weight = _empty_parameter("Linear", (self.out_features, self.in_features), dtype, device)
        if bias:
            self.bias = _empty_parameter("Linear", (self.out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: weight ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return Fbasic.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
