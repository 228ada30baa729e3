"""``StochasticDepth``: drop a residual branch per sample in training, the identity in
evaluation."""

from ..functional.stochastic_depth import MODES, stochastic_depth
from ..validation import choice, real_arg
from .module import Module


class StochasticDepth(Module):
    """Zero the input per sample (``"row"``) or per batch (``"batch"``) with probability ``p``, as
    ``torchvision.ops.StochasticDepth``; kept values are scaled by 1 / (1 - p).

    Args:
        p: drop probability, in [0, 1].
        mode: ``"row"`` or ``"batch"``.

    Shape: output has the input's shape ``(N, ...)``.
    """

    def __init__(self, p, mode):
        super().__init__()
        self.p = real_arg("StochasticDepth", "p", p, 0.0, 1.0)
        self.mode = choice("StochasticDepth", "mode", mode, MODES)

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"
