"""``GELU``: the Gaussian error linear unit as a layer, as ``torch.nn.GELU``."""

from ..functional.gelu import APPROXIMATIONS, gelu
from .module import Module


class GELU(Module):
    """x * Phi(x) elementwise (Phi: the standard normal CDF); ``approximate="tanh"``: tanh form.

    Shape: any -> the same shape.

    Example:
        >>> GELU()(cnnlab.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.15865526,  0.        ,  0.8413447 ])
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in APPROXIMATIONS:
            raise ValueError(f"GELU: `approximate` must be 'none' or 'tanh'. "
                             f"Received: approximate={approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"
