"""Loss layers: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``, ``BCELoss``, ``BCEWithLogitsLoss``.

Class weights are registered as buffers (as PyTorch does), so they follow ``to(dtype)`` and appear in
``state_dict`` when given.
"""

import warnings

from ..functional import loss as Floss
from ..tensor import Tensor
from ..validation import int_arg, real_arg, reduction_arg
from .module import Module


def _optional_tensor(fn, name, value):
    if value is None or isinstance(value, Tensor):
        return value
    if hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        return Tensor(value)
    raise TypeError(f"{fn}: `{name}` must be a Tensor or None. Received an object of type {type(value).__name__}")


def _legacy_reduction(fn, size_average, reduce):
    """PyTorch's deprecated ``size_average``/``reduce`` pair mapped to ``reduction`` (each defaults to True)."""
    warnings.warn(f"{fn}: `size_average` and `reduce` are deprecated; use reduction='none', 'mean' or 'sum'",
                  DeprecationWarning, stacklevel=4)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        fn = type(self).__name__
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(fn, size_average, reduce)
        self.reduction = reduction_arg(fn, reduction)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _optional_tensor(type(self).__name__, "weight", weight))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy between logits and class indices (or class probabilities).

    loss_n = -w[y_n] * log(softmax(x_n)[y_n]), computed from log_softmax so large logits do not overflow;
    ``reduction='mean'`` divides by the sum of the weights of the counted targets.

    Args:
        weight: optional (C,) weight per class.
        size_average, reduce: deprecated (PyTorch's old pair); use ``reduction``.
        ignore_index: targets equal to this add nothing to the loss or the mean's divisor. Default: -100.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        label_smoothing: in [0, 1]; the target becomes (1 - s) * one_hot + s / C. Default: 0.0.

    Shape: input ``(N, C)`` or ``(N, C, d1, ...)``; target ``(N)`` / ``(N, d1, ...)`` of int class
    indices, or probabilities of the input's shape; output scalar (``'none'``: the target's shape).
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int_arg("CrossEntropyLoss", "ignore_index", ignore_index, minimum=None)
        self.label_smoothing = real_arg("CrossEntropyLoss", "label_smoothing", label_smoothing, low=0, high=1)

    def forward(self, input, target):
        return Floss.cross_entropy(input, target, weight=self.weight, reduction=self.reduction,
                                   label_smoothing=self.label_smoothing, ignore_index=self.ignore_index)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (pair with ``LogSoftmax``).

    loss_n = -w[y_n] * input[n, y_n]; ``'mean'`` divides by the sum of the counted targets' weights.

    Args:
        weight: optional (C,) weight per class.
        size_average, reduce: deprecated (PyTorch's old pair); use ``reduction``.
        ignore_index: targets equal to this are skipped. Default: -100.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.

    Shape: input ``(N, C)`` or ``(N, C, d1, ...)``; target ``(N)`` / ``(N, d1, ...)``; output scalar.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int_arg("NLLLoss", "ignore_index", ignore_index, minimum=None)

    def forward(self, input, target):
        return Floss.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                              reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: (input - target)^2, averaged (or summed) over every element.

    Args:
        size_average, reduce: deprecated (PyTorch's old pair); use ``reduction``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.

    Shape: input and target of the same shape; output scalar (``'none'``: that shape).
    """

    def forward(self, input, target):
        return Floss.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy between probabilities in [0, 1] and targets:
    -w * (y * log(x) + (1 - y) * log(1 - x)), with each log clamped at -100 as PyTorch does.

    Prefer ``BCEWithLogitsLoss`` on logits: it is stable where a sigmoid saturates.

    Args:
        weight: optional weight broadcast against the input.
        size_average, reduce: deprecated (PyTorch's old pair); use ``reduction``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.

    Shape: input and target of the same shape; output scalar (``'none'``: that shape).
    """

    def forward(self, input, target):
        return Floss.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits: sigmoid and BCE in one stable expression,
    -w * (p * y * log(sigmoid(x)) + (1 - y) * log(1 - sigmoid(x))).

    Args:
        weight: optional weight broadcast against the input.
        size_average, reduce: deprecated (PyTorch's old pair); use ``reduction``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        pos_weight: optional weight p of the positive term, broadcast along the last (class) axis.

    Shape: input and target of the same shape; output scalar (``'none'``: that shape).
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _optional_tensor("BCEWithLogitsLoss", "weight", weight))
        self.register_buffer("pos_weight", _optional_tensor("BCEWithLogitsLoss", "pos_weight", pos_weight))

    def forward(self, input, target):
        return Floss.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                      pos_weight=self.pos_weight)
