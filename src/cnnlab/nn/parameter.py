"""``Parameter``: a Tensor that a Module registers as learnable when assigned to one of its attributes."""

import numpy as np

from .. import backend
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: ``requires_grad`` is True unless asked otherwise.

    Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``) registers it, so
    ``parameters()``, ``state_dict()`` and optimizers find it. The data is shared with the array or
    Tensor it is made from, not copied, as in PyTorch.

    Args:
        data: array-like or Tensor. ``None`` gives an empty tensor of the default dtype.
        requires_grad: whether the parameter gets a gradient in ``backward()``. Default: True.

    Example:
        >>> w = Parameter(cnnlab.zeros(2, 3))
        >>> w.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype())
        elif isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # Pickle/deepcopy as a Parameter holding a copy of the array (the default would lose the class
        # invariants of the slots-only base).
        return (_rebuild_parameter, (self._data, self.requires_grad, self.grad))


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad=requires_grad)
    p.grad = grad
    return p


def _factory_dtype(fn, dtype):
    """The dtype a layer's parameters get: ``dtype`` if given (floating only), else the default dtype."""
    return backend.get_default_dtype() if dtype is None else _floating_dtype(fn, dtype)


def _floating_dtype(fn, dtype):
    """``dtype`` as a NumPy dtype; TypeError naming ``fn`` unless it is a floating one."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: `dtype` must be a floating dtype such as float32 or float64. "
                        f"Received: dtype={dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{fn}: `dtype` must be a floating dtype such as float32 or float64. Received: dtype={dt}")
    return dt


def _empty_parameter(fn, shape, dtype=None, device=None):
    """An uninitialised Parameter of ``shape`` for a layer to fill in ``reset_parameters``."""
    data = np.zeros(shape, dtype=_factory_dtype(fn, dtype))
    if device is not None:
        data = backend.to_device(data, device)
    return Parameter(data)


def _state_tensor(fn, array, device=None):
    """A buffer Tensor (e.g. a running mean) on ``device``."""
    if device is not None:
        array = backend.to_device(array, device)
    return Tensor(array)
