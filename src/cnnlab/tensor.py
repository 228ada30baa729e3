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

    def size(self, dim=None):
        """The shape as a ``Size`` (a tuple), or the length of dimension ``dim``, as PyTorch.

        The element count is ``numel()``.
        """
        if dim is None:
            return Size(self.data.shape)
        nd = self.data.ndim
        if nd == 0:
            raise IndexError(f"size: a 0-d tensor has no dimension to measure. "
                             f"Received: dim={dim!r}")
        return int(self.data.shape[validation.normalize_dim("size", dim, nd)])

    def numel(self):
        return int(self.data.size)

    @property
    def device(self):
        """Where the data lives: ``device(type='cpu')`` or ``device(type='cuda', index=N)``."""
        return backend.device_of(self.data)

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
        """float32, differentiable; the tensor itself if it already is (as PyTorch)."""
        return self.to(np.float32)

    def double(self):
        """float64, differentiable; the tensor itself if it already is (as PyTorch)."""
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """Convert with PyTorch's argument forms: ``to(dtype)``, ``to(device)``,
        ``to(device, dtype)``, ``to(other)`` (other's device and dtype), keywords ``dtype``,
        ``device``, ``copy``.

        Returns the tensor itself when nothing changes and ``copy`` is False; floating results stay
        in the graph. ``non_blocking`` is accepted and has no effect.
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif backend.is_device_like(a):
                device = a
            else:
                try:
                    dtype = _dtype_arg("to", a)
                except TypeError:
                    raise TypeError(f"to: each argument must be a device ('cpu', 'cuda', "
                                    f"'cuda:N'), a dtype or a tensor. Received: {a!r}") from None
        if dtype is not None:
            dtype = _dtype_arg("to", dtype)
        if device is not None:
            device = backend.require_device("to", device)
        from .functional import convert

        return convert.convert(self, dtype, device, copy=copy)

    def cpu(self):
        """The tensor on the CPU (itself if it is there already)."""
        return self.to("cpu")

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
            # on self's device, so a NumPy gradient also serves a CuPy graph
            g = backend.to_device(_as_array(gradient, self.dtype), str(self.device))
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

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``max()``: the largest value as a 0-d tensor (tied maxima share the gradient).

        ``max(dim)``: the named pair ``(values, indices)`` along ``dim``, as PyTorch; the gradient
        goes to the returned index. For several dims at once use ``amax``.
        """
        dim, keepdim = _axis(dim, axis), _keep(keepdim, keepdims)
        if dim is None:
            return _R.max(self, None, False)
        return _X.extreme_along("max", self, dim, keepdim, largest=True)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``min()``: the smallest value as a 0-d tensor; ``min(dim)``: ``(values, indices)``."""
        dim, keepdim = _axis(dim, axis), _keep(keepdim, keepdims)
        if dim is None:
            return _R.min(self, None, False)
        return _X.extreme_along("min", self, dim, keepdim, largest=False)

    def amax(self, dim=None, keepdim=False):
        """Largest value over ``dim`` (an int, tuple or None); tied maxima share the gradient."""
        return _R.max(self, None if dim == () else dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        """Smallest value over ``dim`` (an int, tuple or None); tied minima share the gradient."""
        return _R.min(self, None if dim == () else dim, keepdim)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Index of the largest value along ``dim``; with no dim, into the flattened tensor."""
        dim, keepdim = _axis(dim, axis), _keep(keepdim, keepdims)
        return _X.arg_extreme("argmax", self, dim, keepdim, largest=True)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Index of the smallest value along ``dim``; with no dim, into the flattened tensor."""
        dim, keepdim = _axis(dim, axis), _keep(keepdim, keepdims)
        return _X.arg_extreme("argmin", self, dim, keepdim, largest=False)

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
            return _S.transpose(self, *axes)
        if not axes:
            return _S.permute(self, tuple(reversed(range(self.ndim))))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _S.permute(self, axes)

    def t(self):
        """Transpose a 2-D tensor (0-D and 1-D come back as they are), as PyTorch's ``t()``."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions. Received a {self.ndim}-D "
                             f"tensor of shape {self.shape} (use transpose(d0, d1) or permute)")
        return _S.permute(self, tuple(reversed(range(self.ndim))))

    def expand(self, *sizes):
        """A broadcast view with ``sizes`` (-1 keeps a dimension); no copy."""
        return _B.expand(self, *sizes)

    def expand_as(self, other):
        return _B.expand(self, *other.shape)

    def repeat(self, *sizes):
        """Tile the data ``sizes[i]`` times along dimension i (copies, like ``numpy.tile``)."""
        return _B.repeat(self, *sizes)

    def masked_fill(self, mask, value):
        """``value`` where the boolean ``mask`` is True, this tensor's values elsewhere."""
        return _B.masked_fill(self, mask, value)

    def permute(self, *dims):
        if not dims:
            raise TypeError("permute: `dims` is required (one per dimension, as PyTorch). "
                            "Received none")
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _S.permute(self, dims)

    def squeeze(self, dim=None):
        return _S.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _S.unsqueeze(self, dim)

    def __getitem__(self, index):
        return _S.getitem(self, index)


def _axis(axis, dim):
    return dim if dim is not None else axis


class Size(tuple):
    """A tensor's shape, as ``size()`` returns it: a tuple of ints, as PyTorch's ``torch.Size``."""

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __repr__(self):
        return f"cnnlab.Size({list(self)})"


def _dtype_arg(fn, dtype):
    """``dtype`` as a NumPy dtype of a kind a tensor can hold (float, int, uint, bool)."""
    try:
        parsed = np.dtype(dtype)
    except TypeError:
        parsed = None
    if parsed is None or parsed.kind not in "fiub":
        raise TypeError(f"{fn}: `dtype` must be a numeric or bool dtype such as 'float32' or "
                        f"cnnlab.float64. Received: dtype={dtype!r}")
    return parsed


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


def from_numpy(array):
    """A tensor sharing ``array``'s memory (a write to either shows in both), as PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray. Received an object of type "
                        f"{type(array).__name__}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"from_numpy: the array's dtype must be numeric or bool. "
                        f"Received dtype {array.dtype}")
    return Tensor._wrap(array)


validation.register_tensor_type(Tensor)  # validation sits below tensor: it learns the class from here

from .functional import elementwise as _E  # noqa: E402  (ops import Tensor; import them after it exists)
from .functional import reduce as _R  # noqa: E402
from .functional import shape as _S  # noqa: E402
from .functional import broadcast as _B  # noqa: E402
from .functional import extreme as _X  # noqa: E402
