"""``Embedding``: a learnt vector per token, as ``torch.nn.Embedding`` (a captioner's word table)."""

from ..autograd import no_grad
from ..functional import encoding as Fenc
from ..validation import int_arg
from . import init
from .module import Module
from .parameter import _empty_parameter


class Embedding(Module):
    """A table of ``num_embeddings`` learnt vectors; input indices pick rows.

    Args:
        num_embeddings: size of the vocabulary (V).
        embedding_dim: size of each vector (D).
        padding_idx: a row kept at zero at the start whose gradient is always zero (PyTorch's
            padding token); negative counts from the end. Default: None.
        device, dtype: where and in which floating dtype the table lives.

    Attributes:
        weight: ``(V, D)``, initialised N(0, 1) as PyTorch (the padding row zero).

    Shape: ``(*)`` int64 -> ``(*, D)``.

    Example:
        >>> Embedding(11, 8)(cnnlab.tensor([[1, 2, 10]])).shape
        (1, 3, 8)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = int_arg("Embedding", "num_embeddings", num_embeddings, minimum=1)
        self.embedding_dim = int_arg("Embedding", "embedding_dim", embedding_dim, minimum=1)
        if padding_idx is not None:
            n = self.num_embeddings
            padding_idx = int_arg("Embedding", "padding_idx", padding_idx, -n, n - 1) % n
        self.padding_idx = padding_idx
        shape = (self.num_embeddings, self.embedding_dim)
        self.weight = _empty_parameter("Embedding", shape, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: N(0, 1), the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return Fenc.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
