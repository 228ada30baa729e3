"""``Flatten``: merge a range of axes into one (the bridge from feature maps to a classifier)."""

from ..functional import shape as Fshape
from ..validation import int_arg
from .module import Module


class Flatten(Module):
    """Flatten axes ``start_dim..end_dim`` into one.

    Args:
        start_dim: first axis to flatten. Default: 1 (keep the batch axis).
        end_dim: last axis to flatten. Default: -1.

    Shape: ``(N, C, H, W) -> (N, C*H*W)`` with the defaults.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            int_arg("Flatten", name, value)
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return Fshape.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
