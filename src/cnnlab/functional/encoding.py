"""Indices to vectors: ``one_hot`` rows and ``embedding`` (rows of a learnt table), as PyTorch."""

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..validation import bool_arg, floating, int_arg, real_arg, tensor_arg
from ._scatter import scatter_add


def one_hot(tensor, num_classes=-1):
    """int64 indices (any shape) -> int64 one-hot rows with a new last axis of ``num_classes``.

    ``num_classes=-1`` uses the largest index + 1. No gradient (the input is an index tensor).

    Shape:
        ``(*) -> (*, num_classes)``.

    Example:
        >>> one_hot(cnnlab.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    fn = "one_hot"
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: `tensor` must be a Tensor of int64 class indices. "
                        f"Received an object of type {type(tensor).__name__}")
    if tensor.dtype != np.int64:  # PyTorch takes LongTensor only, not int32 or uint8
        raise TypeError(f"{fn}: `tensor` must hold int64 class indices. "
                        f"Received dtype {tensor.dtype}")
    num_classes = int_arg(fn, "num_classes", num_classes, minimum=-1)  # -1: the largest index + 1
    labels = tensor._data
    xp = backend.get_array_module(labels)
    low = int(labels.min()) if labels.size else 0
    high = int(labels.max()) if labels.size else -1
    if low < 0:
        raise ValueError(f"{fn}: class indices must be non-negative. Received a minimum of {low}")
    if not labels.size and num_classes <= 0:  # PyTorch refuses 0 as it does -1 here
        raise ValueError(f"{fn}: cannot infer num_classes from an empty tensor; pass a "
                         f"positive num_classes. Received: num_classes={num_classes}")
    if num_classes == -1:
        num_classes = high + 1
    elif high >= num_classes:
        raise ValueError(f"{fn}: class indices must be smaller than num_classes={num_classes}. "
                         f"Received a maximum of {high}")
    classes = xp.arange(int(num_classes), dtype=xp.int64)
    return Tensor._wrap((labels[..., None] == classes).astype(xp.int64))


class Embedding(Function):
    """Rows of ``weight`` picked by index; backward adds each output row's gradient into its row."""

    @staticmethod
    def forward(ctx, weight, indices=None, padding_idx=None, scale_grad_by_freq=False):
        ctx.shape, ctx.indices, ctx.padding_idx = weight.shape, indices, padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight[indices]                                            # (*, D)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        rows, dim = ctx.shape
        # Flat position of element (index, d) in weight is index * D + d; repeated indices add up.
        positions = ctx.indices[..., None] * dim + xp.arange(dim)          # (*, D)
        grad = scatter_add(rows * dim, positions, g, g.dtype).reshape(rows, dim)
        if ctx.scale_grad_by_freq:
            # Each row's summed gradient divided by how often its index occurs in this batch.
            counts = xp.bincount(ctx.indices.ravel(), minlength=rows)
            grad /= xp.maximum(counts, 1).astype(grad.dtype)[:, None]
        if ctx.padding_idx is not None:
            grad[ctx.padding_idx] = 0      # the padding row is a constant: it gets no update
        return grad


def embedding_renorm_(weight, indices, max_norm, norm_type=2.0):
    """In place, without a gradient: each row of ``weight`` that ``indices`` picks and whose
    ``norm_type``-norm exceeds ``max_norm`` is scaled down to that norm (PyTorch's
    ``embedding_renorm_``, the ``max_norm`` of ``embedding``)."""
    data = weight._data
    xp = backend.get_array_module(data)
    rows = xp.unique(xp.asarray(indices).ravel())
    picked = data[rows]
    norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if bool(over.any()):
        # PyTorch's factor, max_norm / (norm + 1e-7), so a renormalised row sits just under max_norm.
        data[rows[over]] = picked[over] * (max_norm / (norms[over] + 1e-7))[:, None].astype(data.dtype)
        weight._version += 1
    return weight


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of the table ``weight`` (num_embeddings, D) for the int64 indices ``input``, as PyTorch.

    ``padding_idx`` (negative counts from the end) names a row whose gradient is always zero.
    ``max_norm`` first rescales, in place, each picked row whose ``norm_type``-norm exceeds it.
    ``scale_grad_by_freq`` divides each row's gradient by its index's count in ``input``.
    ``sparse=True`` is accepted and gives the same values as a dense gradient (cnnlab has no sparse
    tensors; SGD updates the same rows).

    Shape:
        ``input (*)``, ``weight (V, D)`` -> ``(*, D)``.

    Example:
        >>> embedding(cnnlab.tensor([[0, 2]]), cnnlab.eye(3)).shape
        (1, 2, 3)
    """
    fn = "embedding"
    input = tensor_arg(fn, "input", input)
    weight = floating(fn, "weight", tensor_arg(fn, "weight", weight, ndim=2,
                                               shape_hint="(num_embeddings, embedding_dim)"))
    if input.dtype.kind not in "iu":
        raise TypeError(f"{fn}: `input` must hold integer indices. Received dtype {input.dtype}")
    rows = weight.shape[0]
    indices = input._data.astype(np.int64, copy=False)
    if indices.size and not (0 <= int(indices.min()) and int(indices.max()) < rows):
        raise IndexError(f"{fn}: indices must be in 0..{rows - 1} (the table's num_embeddings={rows}). "
                         f"Received indices from {int(indices.min())} to {int(indices.max())}")
    if padding_idx is not None:
        padding_idx = int_arg(fn, "padding_idx", padding_idx, minimum=-rows, maximum=rows - 1) % rows
    if max_norm is not None:
        max_norm = real_arg(fn, "max_norm", max_norm, low=0, low_open=True, finite=True)
        norm_type = real_arg(fn, "norm_type", norm_type, low=0, low_open=True, finite=True)
        embedding_renorm_(weight, indices, max_norm, norm_type)
    bool_arg(fn, "sparse", sparse)
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx,
                           scale_grad_by_freq=bool_arg(fn, "scale_grad_by_freq", scale_grad_by_freq))
