"""``Tensor``: an array, its gradient, and the op that made it."""

import numbers

import numpy as np

from . import backend, validation
from .autograd import engine, grad_mode


def _as_array(data, dtype=None):
    """Turn ``data`` into an array; Python floats become the default dtype, like PyTorch."""
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.get_array_module(data) if hasattr(data, "__array__") or hasattr(data, "__cuda_array_interface__") else np
    if dtype is not None:
        return xp.asarray(data, dtype=np.dtype(dtype))
    arr = xp.asarray(data)
    if not isinstance(data, (np.ndarray,)) and not hasattr(data, "__cuda_array_interface__"):
        # Lists and Python scalars: floats take the default dtype, ints int64, bools bool.
        if arr.dtype.kind == "f":
            arr = arr.astype(backend.get_default_dtype(), copy=False)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64, copy=False)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"tensor: `data` must be numeric. Received an array of dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array that can record the ops applied to it and compute gradients.

    Args:
        data: array-like. NumPy arrays keep their dtype; Python floats become float32 (the default).
        requires_grad: if True, ``backward()`` fills ``.grad`` for this tensor.
        dtype: optional dtype, e.g. ``"float64"`` for gradient checks.

    Example:
        >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.numpy()
        array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self._node = None
        self._retains_grad = False
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating tensors can require gradients. Received dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)

    @classmethod
    def _wrap(cls, array):
        """Wrap an array without copying or checking (for op outputs)."""
        t = object.__new__(Tensor)
        t.data = array
        t.grad = None
        t.requires_grad = False
        t._node = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ properties
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.data.ndim

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(backend.asnumpy(self.data), separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != backend.get_default_dtype() else ""
        if self._node is not None:
            extra += f", grad_fn={self._node.name()}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------------ conversion
    def numpy(self):
        """The data as a NumPy array (shares memory on the CPU)."""
        return backend.asnumpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number. Received shape {self.shape}")
        return self.data.reshape(-1)[0].item()

    def tolist(self):
        return backend.asnumpy(self.data).tolist()

    def __array__(self, dtype=None, copy=None):
        a = backend.asnumpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data.reshape(-1)[0])

    def detach(self):
        """A tensor sharing the data but cut from the graph."""
        return Tensor._wrap(self.data)

    def clone(self):
        from .functional import elementwise

        return elementwise.clone(self)

    def astype(self, dtype):
        return Tensor._wrap(self.data.astype(dtype))

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def to(self, device_or_dtype):
        if isinstance(device_or_dtype, str) and (device_or_dtype == "cpu" or device_or_dtype.startswith("cuda")):
            return Tensor._wrap(backend.to_device(self.data, device_or_dtype))
        return self.astype(device_or_dtype)

    def requires_grad_(self, mode=True):
        if mode and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating tensors can require gradients. Received dtype {self.dtype}")
        self.requires_grad = bool(mode)
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after ``backward()`` (e.g. for activation gradients)."""
        self._retains_grad = True
        return self

    def zero_(self):
        self.data[...] = 0
        return self

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=False):
        """Compute d self / d leaf for every leaf that requires a gradient, adding into ``.grad``.

        ``gradient`` is d loss / d self; it may be omitted only when ``self`` holds one element.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(did you build it inside no_grad(), or from tensors without requires_grad=True?)")
        xp = backend.get_array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: `gradient` can be omitted only for a one-element output. "
                                   f"Received an output of shape {self.shape}")
            g = xp.ones_like(self.data)
        else:
            g = _as_array(gradient, self.dtype)
            if g.shape != self.shape:
                raise ValueError(f"backward: `gradient` must have the output's shape {self.shape}. Received shape {g.shape}")
        engine.backward(self, g, retain_graph=retain_graph)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _E.add(self, other)

    def __radd__(self, other):
        return _E.add(other, self)

    def __sub__(self, other):
        return _E.sub(self, other)

    def __rsub__(self, other):
        return _E.sub(other, self)

    def __mul__(self, other):
        return _E.mul(self, other)

    def __rmul__(self, other):
        return _E.mul(other, self)

    def __truediv__(self, other):
        return _E.div(self, other)

    def __rtruediv__(self, other):
        return _E.div(other, self)

    def __matmul__(self, other):
        return _E.matmul(self, other)

    def __rmatmul__(self, other):
        return _E.matmul(other, self)

    def __pow__(self, other):
        return _E.pow(self, other)

    def __rpow__(self, other):
        return _E.pow(other, self)

    def __neg__(self):
        return _E.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _E.abs(self)

    # Comparisons give plain boolean tensors (no gradient), as in PyTorch.
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, other))

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ math
    def exp(self):
        return _E.exp(self)

    def log(self):
        return _E.log(self)

    def sqrt(self):
        return _E.sqrt(self)

    def abs(self):
        return _E.abs(self)

    def clamp(self, min=None, max=None):
        return _E.clamp(self, min, max)

    def relu(self):
        from .functional import activation

        return activation.relu(self)

    def sigmoid(self):
        from .functional import activation

        return activation.sigmoid(self)

    def tanh(self):
        from .functional import activation

        return activation.tanh(self)

    def softmax(self, dim=-1):
        from .functional import activation

        return activation.softmax(self, dim)

    def log_softmax(self, dim=-1):
        from .functional import activation

        return activation.log_softmax(self, dim)

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.sum(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _R.mean(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, unbiased=True, *, dim=None, keepdim=None):
        return _R.var(self, _axis(axis, dim), _keep(keepdims, keepdim), unbiased)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Largest value over ``axis`` (like ``torch.amax``: tied maxima share the gradient)."""
        return _R.max(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Smallest value over ``axis`` (like ``torch.amin``: tied minima share the gradient)."""
        return _R.min(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keep = _axis(axis, dim), _keep(keepdims, keepdim)
        return Tensor._wrap(self.data.argmax(axis=axis, keepdims=keep))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keep = _axis(axis, dim), _keep(keepdims, keepdim)
        return Tensor._wrap(self.data.argmin(axis=axis, keepdims=keep))

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _S.reshape(self, shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return _S.flatten(self, start_dim, end_dim)

    def transpose(self, *axes):
        """``t.transpose(d0, d1)`` swaps two axes as in PyTorch; ``t.transpose()`` reverses all of them."""
        if len(axes) == 2 and all(isinstance(a, numbers.Integral) for a in axes):
            perm = list(range(self.ndim))
            d0, d1 = (a % self.ndim for a in axes)
            perm[d0], perm[d1] = perm[d1], perm[d0]
            return _S.permute(self, tuple(perm))
        if not axes:
            return _S.permute(self, tuple(reversed(range(self.ndim))))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _S.permute(self, axes)

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _S.permute(self, dims)

    def squeeze(self, dim=None):
        shape = self.shape
        if dim is None:
            new = tuple(n for n in shape if n != 1)
        else:
            d = dim % self.ndim
            new = shape[:d] + shape[d + 1:] if shape[d] == 1 else shape
        return _S.reshape(self, new)

    def unsqueeze(self, dim):
        d = dim % (self.ndim + 1)
        return _S.reshape(self, self.shape[:d] + (1,) + self.shape[d:])

    def __getitem__(self, index):
        return _S.getitem(self, index)


def _axis(axis, dim):
    return dim if dim is not None else axis


def _keep(keepdims, keepdim):
    return keepdim if keepdim is not None else keepdims


def tensor(data, requires_grad=False, dtype=None):
    """Make a Tensor from array-like ``data`` (float32 for Python floats, as PyTorch)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _factory(fill, shape, dtype, requires_grad):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dtype = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    return Tensor(fill(shape, dtype=dtype), requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    return _factory(np.zeros, shape, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _factory(np.ones, shape, dtype, requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard-normal samples from cnnlab's seeded generator."""
    rng = backend.get_rng()
    return _factory(lambda s, dtype: rng.standard_normal(s).astype(dtype), shape, dtype, requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform [0, 1) samples from cnnlab's seeded generator."""
    rng = backend.get_rng()
    return _factory(lambda s, dtype: rng.random(s).astype(dtype), shape, dtype, requires_grad)


def arange(*args, dtype=None):
    return Tensor(np.arange(*args, dtype=dtype))


validation.register_tensor_type(Tensor)  # validation sits below tensor: it learns the class from here

from .functional import elementwise as _E  # noqa: E402  (ops import Tensor; import them after it exists)
from .functional import reduce as _R  # noqa: E402
from .functional import shape as _S  # noqa: E402
