"""``Tensor``: an array, its gradient, and the op that made it."""

import importlib
import numbers

import numpy as np

from . import backend, validation
from .autograd import engine, grad_mode
from .autograd import hooks as _hooks


def _as_array(data, dtype=None):
    """Turn ``data`` into an array; Python floats become the default dtype, like PyTorch."""
    if isinstance(data, Tensor):
        data = data._data
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


_FUNCTIONAL = {}  # module name -> cnnlab.functional.<name>, once imported


def _functional(module):
    """``cnnlab.functional.<module>``, imported at the first call: the ops import Tensor, so this module
    cannot import them before the class exists (and need not pay for those a program never calls).
    Later calls are one dict look-up, as they sit on every method call that goes through here."""
    found = _FUNCTIONAL.get(module)
    if found is None:
        found = _FUNCTIONAL[module] = importlib.import_module(f"{__package__}.functional.{module}")
    return found


def _method_of(module, name):
    """The method ``t.<name>()`` that is ``cnnlab.functional.<module>.<name>(t)``, for a one-tensor op."""

    def method(self):
        return getattr(_functional(module), name)(self)

    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    method.__doc__ = f"``{name}`` of this tensor: ``cnnlab.functional.{name}(t)``."
    return method


def _operator(name, symbol, reflected=False):
    """The method ``t.<name>(other)``: ``t <symbol> other``, the elementwise op ``name``. ``reflected``:
    Python's reflected form (``2 - t`` calls ``t.__rsub__(2)``), ``other <symbol> t``."""

    def method(self, other):
        a, b = (other, self) if reflected else (self, other)
        return getattr(_E, name)(a, b)

    method.__name__ = f"reflected_{name}" if reflected else name
    method.__qualname__ = f"Tensor.{method.__name__}"
    method.__doc__ = f"``other {symbol} self``" if reflected else f"``self {symbol} other``"
    return method


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

    __slots__ = ("_data", "grad", "requires_grad", "_node", "_retains_grad", "_version",
                 "_consumers", "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None):
        if dtype is None and isinstance(data, (list, tuple)):
            # NOTE: as torch.Tensor(list), the values take the default float dtype; cnnlab.tensor()
            # infers int64 for integers. Arrays keep their dtype (torch.Tensor would make them float).
            dtype = backend.get_default_dtype()
        self._data = _as_array(data, dtype)
        self._version = self._consumers = 0
        self.grad = None
        self._node = None
        self._retains_grad = False
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating tensors can require gradients. Received dtype {self._data.dtype}")
        self.requires_grad = bool(requires_grad)

    @classmethod
    def _wrap(cls, array):
        """Wrap an array without copying or checking (for op outputs)."""
        t = object.__new__(Tensor)
        t._data = array
        t._version = t._consumers = 0
        t.grad = None
        t.requires_grad = False
        t._node = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ properties
    @property
    def data(self):
        """This tensor's values as a tensor outside the graph, sharing memory (PyTorch's ``.data``).

        Writes through it (``p.data.mul_(0.5)``) change this tensor without autograd knowing. The
        raw array (NumPy or CuPy) that ops compute on is ``_data``.
        """
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    def size(self, dim=None):
        """The shape as a ``Size`` (a tuple), or the length of dimension ``dim``, as PyTorch.

        The element count is ``numel()``.
        """
        if dim is None:
            return Size(self._data.shape)
        nd = self._data.ndim
        if nd == 0:
            raise IndexError(f"size: a 0-d tensor has no dimension to measure. "
                             f"Received: dim={dim!r}")
        return int(self._data.shape[validation.normalize_dim("size", dim, nd)])

    def numel(self):
        return int(self._data.size)

    @property
    def device(self):
        """Where the data lives: ``device(type='cpu')`` or ``device(type='cuda', index=N)``."""
        return backend.device_of(self._data)

    def dim(self):
        return self._data.ndim

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
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        """The sub-tensors along dimension 0 (``for label in labels``), as PyTorch."""
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __repr__(self):
        body = np.array2string(backend.asnumpy(self._data), separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != backend.get_default_dtype() else ""
        if self._node is not None:
            extra += f", grad_fn={self._node.name()}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------------ conversion
    def numpy(self):
        """The data as a NumPy array (shares memory on the CPU)."""
        return backend.asnumpy(self._data)

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number. Received shape {self.shape}")
        return self._data.reshape(-1)[0].item()

    def tolist(self):
        return backend.asnumpy(self._data).tolist()

    def __dlpack__(self, *args, **kwargs):
        """DLPack export: ``torch.tensor(t)`` and ``torch.as_tensor(t)`` read the array at once."""
        data = self._data
        if not getattr(getattr(data, "flags", None), "writeable", True):
            data = data.copy()  # DLPack cannot mark memory read-only (broadcast views)
        return data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __array__(self, dtype=None, copy=None):
        a = backend.asnumpy(self._data)
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """A one-element integer tensor indexes like an int (``classes[labels[j]]``), as PyTorch."""
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(f"__index__: only integer tensors of a single element can be converted "
                            f"to an index. Received a {self.dtype} tensor of shape {self.shape}")
        return int(self.item())

    def __format__(self, spec):
        """A 0-d tensor formats as its number (``f"{loss:.3f}"``); others as their repr."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"__format__: format spec {spec!r} applies to 0-d tensors only. "
                            f"Received a tensor of shape {self.shape}")
        return repr(self)

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor with {self._data.size} elements is ambiguous")
        return bool(self._data.reshape(-1)[0])

    def detach(self):
        """A tensor sharing the data but cut from the graph."""
        return Tensor._wrap(self._data)

    def clone(self):
        from .functional import elementwise

        return elementwise.clone(self)

    def astype(self, dtype):
        return Tensor._wrap(self._data.astype(dtype))

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

    def cuda(self, device=None, non_blocking=False):
        """The tensor on the GPU (``to("cuda")``); a clear error where there is none."""
        return self.to("cuda" if device is None else device)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def contiguous(self):
        """The tensor itself: cnnlab's ops take any memory layout."""
        return self

    def __getattr__(self, name):
        # Called only for names Tensor lacks: a PyTorch name gets its one-line answer.
        if name.startswith("__"):
            raise AttributeError(name)
        from .pytorch_names import missing

        raise missing("torch.Tensor", None, name)

    def requires_grad_(self, mode=True):
        if mode and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating tensors can require gradients. Received dtype {self.dtype}")
        self.requires_grad = bool(mode)
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after ``backward()`` (e.g. for activation gradients)."""
        self._retains_grad = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when backward computes this tensor's gradient; a returned Tensor
        replaces it. Returns a handle whose ``remove()`` takes the hook off."""
        return _hooks.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` after each backward pass has accumulated into this leaf's ``.grad``
        (data-parallel training starts the gradient's all-reduce there)."""
        return _hooks.register_post_accumulate_grad_hook(self, hook)


    # ------------------------------------------------------------------ in place
    # Each runs the op out of place and writes the result into this tensor's own array, with
    # PyTorch's autograd rules (functional/inplace.py): leaves that require grad refuse outside
    # no_grad, and the version check catches a change to a tensor an op saved for backward.
    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        def direct(a):
            a[...] = value.item() if isinstance(value, Tensor) else value

        return _I.apply(self, "fill_", lambda t: _I.fill_value(t, value), value, direct=direct)

    def add_(self, other, alpha=1):
        return _I.apply(self, "add_", lambda t: t + _scaled(other, alpha), other)

    def sub_(self, other, alpha=1):
        return _I.apply(self, "sub_", lambda t: t - _scaled(other, alpha), other)

    def mul_(self, other):
        return _I.apply(self, "mul_", lambda t: t * other, other)

    def div_(self, other):
        return _I.apply(self, "div_", lambda t: t / other, other)

    def clamp_(self, min=None, max=None):
        return _I.apply(self, "clamp_", lambda t: _E.clamp(t, min, max), min, max)

    def copy_(self, src, non_blocking=False):
        """Copy ``src``'s values (broadcast to this shape, cast to this dtype) into this tensor."""
        def compute(t):
            s = src if isinstance(src, Tensor) else Tensor(backend.to_device(
                _as_array(src, self.dtype), str(self.device)))
            s = s.to(self.dtype) if s.dtype != self.dtype else s
            return _B.expand(s, *self.shape) if s.shape != self.shape else s + 0

        return _I.apply(self, "copy_", compute, src)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill with normal samples from cnnlab's generator (or ``generator``)."""
        rng = backend.get_rng() if generator is None else getattr(generator, "rng", generator)
        return self.copy_(Tensor._wrap(rng.normal(mean, std, self.shape).astype(self.dtype)))

    def uniform_(self, a=0.0, b=1.0, generator=None):
        """Fill with uniform samples in [a, b) from cnnlab's generator (or ``generator``)."""
        rng = backend.get_rng() if generator is None else getattr(generator, "rng", generator)
        return self.copy_(Tensor._wrap(rng.uniform(a, b, self.shape).astype(self.dtype)))

    def masked_fill_(self, mask, value):
        return _I.apply(self, "masked_fill_", lambda t: _B.masked_fill(t, mask, value), value)

    def __setitem__(self, index, value):
        index = _I.raw_index(index)

        def direct(a):
            a[index] = value._data if isinstance(value, Tensor) else value

        def compute(t):
            v = value if isinstance(value, Tensor) else \
                backend.get_array_module(t._data).asarray(value, dtype=t.dtype)
            return _I.SetItem.apply(t, v, index=index)

        _I.apply(self, "__setitem__", compute, value, direct=direct)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=False):
        """Compute d self / d leaf for every leaf that requires a gradient, adding into ``.grad``.

        ``gradient`` is d loss / d self; it may be omitted only when ``self`` holds one element.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(did you build it inside no_grad(), or from tensors without requires_grad=True?)")
        xp = backend.get_array_module(self._data)
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward: `gradient` can be omitted only for a one-element output. "
                                   f"Received an output of shape {self.shape}")
            g = xp.ones_like(self._data)
        else:
            # on self's device, so a NumPy gradient also serves a CuPy graph
            g = backend.to_device(_as_array(gradient, self.dtype), str(self.device))
            if g.shape != self.shape:
                raise ValueError(f"backward: `gradient` must have the output's shape {self.shape}. Received shape {g.shape}")
        engine.backward(self, g, retain_graph=retain_graph)

    # ------------------------------------------------------------------ arithmetic
    # The operators are the named methods (t + u is t.add(u), as in PyTorch); Python calls a reflected
    # one (2 - t: t.__rsub__(2)) when the left operand is not a tensor.
    def add(self, other, alpha=1):
        return _E.add(self, _scaled(other, alpha))

    def sub(self, other, alpha=1):
        return _E.sub(self, _scaled(other, alpha))

    mul = __mul__ = _operator("mul", "*")
    div = __truediv__ = _operator("div", "/")
    matmul = __matmul__ = _operator("matmul", "@")

    def pow(self, exponent):
        return _E.pow(self, exponent)

    __add__, __sub__, __pow__ = add, sub, pow
    __radd__ = _operator("add", "+", reflected=True)
    __rsub__ = _operator("sub", "-", reflected=True)
    __rmul__ = _operator("mul", "*", reflected=True)
    __rtruediv__ = _operator("div", "/", reflected=True)
    __rmatmul__ = _operator("matmul", "@", reflected=True)
    __rpow__ = _operator("pow", "**", reflected=True)

    def __neg__(self):
        return _E.neg(self)

    def __pos__(self):
        return self

    # Comparisons give plain boolean tensors (no gradient), as in PyTorch.
    def _compare(self, other, op):
        other = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self._data, other))

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
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def equal(self, other):
        """True if ``other`` has this shape and these values (a Python bool)."""
        return _Sel.equal(self, other)

    # ------------------------------------------------------------------ math
    # The one-tensor ops are their functions (t.exp() is functional.exp(t)), as in PyTorch.
    exp = _method_of("elementwise", "exp")
    log = _method_of("elementwise", "log")
    sqrt = _method_of("elementwise", "sqrt")
    abs = __abs__ = _method_of("elementwise", "abs")
    relu = _method_of("activation", "relu")
    sigmoid = _method_of("activation", "sigmoid")
    tanh = _method_of("activation", "tanh")

    def clamp(self, min=None, max=None):
        return _E.clamp(self, min, max)

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        return _Sel.std(self, dim, unbiased, keepdim, correction=correction)

    def norm(self, p="fro", dim=None, keepdim=False):
        return _Sel.norm(self, p, dim, keepdim)

    def cumsum(self, dim, dtype=None):
        return _Sel.cumsum(self, dim, dtype)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) values along ``dim``: the pair ``(values, indices)``."""
        return _Sel.topk(self, k, dim, largest, sorted)

    def sort(self, dim=-1, descending=False, stable=False):
        """Values sorted along ``dim``: the pair ``(values, indices)``."""
        return _Sel.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _Sel.argsort(self, dim, descending, stable)

    def softmax(self, dim=-1):
        return _functional("activation").softmax(self, dim)

    def log_softmax(self, dim=-1):
        return _functional("activation").log_softmax(self, dim)

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
        if isinstance(dim, Tensor):
            return _Sel.maximum(self, dim)            # x.max(other): elementwise, as PyTorch
        dim, keepdim = _axis(dim, axis), _keep(keepdim, keepdims)
        if dim is None:
            return _R.max(self, None, False)
        return _X.extreme_along("max", self, dim, keepdim, largest=True)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``min()``: the smallest value as a 0-d tensor; ``min(dim)``: ``(values, indices)``."""
        if isinstance(dim, Tensor):
            return _Sel.minimum(self, dim)
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

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

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


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


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


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A Tensor from array-like ``data`` (float32 for Python floats, int64 for ints, as PyTorch)."""
    t = Tensor(_as_array(data, dtype), requires_grad=requires_grad)
    return t if device is None else t.to(device)


def _factory(fill, shape, dtype, requires_grad, device=None):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dtype = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    t = Tensor(fill(shape, dtype=dtype))
    if device is not None:
        t = t.to(device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _factory(np.zeros, shape, dtype, requires_grad, device)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _factory(np.ones, shape, dtype, requires_grad, device)


def randn(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard-normal samples from cnnlab's seeded generator (or ``generator``)."""
    rng = backend.get_rng() if generator is None else getattr(generator, "rng", generator)
    return _factory(lambda s, dtype: rng.standard_normal(s).astype(dtype), shape, dtype,
                    requires_grad, device)


def rand(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform [0, 1) samples from cnnlab's seeded generator (or ``generator``)."""
    rng = backend.get_rng() if generator is None else getattr(generator, "rng", generator)
    return _factory(lambda s, dtype: rng.random(s).astype(dtype), shape, dtype, requires_grad,
                    device)


def arange(*args, dtype=None, device=None, requires_grad=False):
    """``arange(end)``, ``arange(start, end[, step])``: int64 for ints, else the default dtype."""
    t = Tensor(np.arange(*args, dtype=dtype))
    if dtype is None and t.dtype.kind == "f":
        t = Tensor._wrap(t._data.astype(backend.get_default_dtype()))
    if device is not None:
        t = t.to(device)
    return t.requires_grad_(requires_grad) if requires_grad else t


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


class _Lazy:
    """A functional module imported at first use (in-place ops, topk/sort...), so that importing
    cnnlab does not pay for ops a program may never call."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return getattr(_functional(self._name), attr)


_I = _Lazy("inplace")
_Sel = _Lazy("selection")
