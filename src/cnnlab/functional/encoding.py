"""``one_hot``: class indices to one-hot rows, as ``torch.nn.functional.one_hot``."""

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import int_arg


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
