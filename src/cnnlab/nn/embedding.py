"""``Embedding``: a learnt vector per token, as ``torch.nn.Embedding`` (a captioner's word table)."""

from ..autograd import no_grad
from ..functional import encoding as Fenc
from ..validation import bool_arg, floating, int_arg, tensor_arg
from . import init
from .module import Module
from .parameter import Parameter, _empty_parameter


class Embedding(Module):
    """A table of ``num_embeddings`` learnt vectors; input indices pick rows.

    Args:
        num_embeddings: size of the vocabulary (V).
        embedding_dim: size of each vector (D).
        padding_idx: a row kept at zero at the start whose gradient is always zero (PyTorch's
            padding token); negative counts from the end. Default: None.
        max_norm: each looked-up row whose ``norm_type``-norm exceeds it is first rescaled to it,
            in place. Default: None.
        norm_type: the p of that norm. Default: 2.
        scale_grad_by_freq: divide each row's gradient by its index's count in the batch.
        sparse: accepted for PyTorch programs; the gradient is dense (the same values).
        device, dtype: where and in which floating dtype the table lives.

    Attributes:
        weight: ``(V, D)``, initialised N(0, 1) as PyTorch (the padding row zero).

    Shape: ``(*)`` int64 -> ``(*, D)``.

    Example:
        >>> Embedding(11, 8)(cnnlab.tensor([[1, 2, 10]])).shape
        (1, 3, 8)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None,
                 dtype=None):
        super().__init__()
        self.num_embeddings = int_arg("Embedding", "num_embeddings", num_embeddings, minimum=1)
        self.embedding_dim = int_arg("Embedding", "embedding_dim", embedding_dim, minimum=1)
        if padding_idx is not None:
            n = self.num_embeddings
            padding_idx = int_arg("Embedding", "padding_idx", padding_idx, -n, n - 1) % n
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq = bool_arg("Embedding", "scale_grad_by_freq", scale_grad_by_freq)
        self.sparse = bool_arg("Embedding", "sparse", sparse)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = _empty_parameter("Embedding", shape, dtype, device)
            self.reset_parameters()
        else:
            _weight = floating("Embedding", "_weight", tensor_arg("Embedding", "_weight", _weight))
            if tuple(_weight.shape) != shape:
                raise ValueError(f"Embedding: `_weight` must have shape {shape} (num_embeddings, "
                                 f"embedding_dim). Received shape {tuple(_weight.shape)}")
            self.weight = Parameter(_weight.detach(), requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding over a given (V, D) table, frozen unless ``freeze=False`` (as PyTorch's)."""
        embeddings = tensor_arg("Embedding.from_pretrained", "embeddings", embeddings, ndim=2,
                                shape_hint="(num_embeddings, embedding_dim)")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=bool_arg("Embedding.from_pretrained", "freeze", freeze))

    def reset_parameters(self):
        """PyTorch's default: N(0, 1), the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return Fenc.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                              self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
