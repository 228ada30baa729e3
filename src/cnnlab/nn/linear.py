"""``Linear``: the fully connected layer y = x W^T + b."""

from ..functional import basic as Fbasic
from ..validation import int_arg
from .weighted import _WeightAndBias


class Linear(_WeightAndBias):
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
        self._make_parameters("Linear", (self.out_features, self.in_features), self.out_features, bias, dtype,
                              device)

    def forward(self, input):
        return Fbasic.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
