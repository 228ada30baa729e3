"""``Dropout`` and ``Dropout2d``: random zeroing during training, the identity in evaluation."""

from ..functional import basic as Fbasic
from ..validation import is_real
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not is_real(p) or not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: `p` (dropout probability) must be between 0 and 1. "
                             f"Received: p={p!r}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the rest by 1/(1-p).

    In evaluation mode (``model.eval()``) it returns the input unchanged. The mask is drawn from
    ``cnnlab.backend.get_rng()``, so ``cnnlab.manual_seed`` makes it repeatable.

    Args:
        p: probability of zeroing an element. Default: 0.5.
        inplace: accepted for PyTorch compatibility and ignored (the output is always a new tensor).

    Shape: output has the input's shape.
    """

    def forward(self, input):
        return Fbasic.dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Channel dropout: in training, zero whole feature maps with probability ``p``, scale the rest by 1/(1-p).

    Args:
        p: probability of zeroing a channel. Default: 0.5.
        inplace: accepted for PyTorch compatibility and ignored.

    Shape: ``(N, C, H, W)`` or ``(N, C, L)``, unchanged.
    """

    def forward(self, input):
        return Fbasic.dropout2d(input, self.p, self.training)
