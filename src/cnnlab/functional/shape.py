"""Shape ops (reshape, permute, flatten, indexing, cat, stack) with their gradients."""

import numbers

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..validation import normalize_dim, normalize_dims
from ._scatter import scatter_add


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.transpose(inverse)


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, numbers.Integral)) for i in items)


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        ctx.basic = _is_basic_index(index)
        return a[index]

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        if ctx.basic:  # each input element appears at most once: plain assignment
            grad = xp.zeros(ctx.shape, dtype=ctx.dtype)
            grad[ctx.index] = g
            return grad
        # Advanced indexing may pick an element several times: add up by flat position.
        size = 1
        for n in ctx.shape:
            size *= n
        positions = xp.arange(size).reshape(ctx.shape)[ctx.index]
        return scatter_add(size, positions, g, ctx.dtype).reshape(ctx.shape)


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.splits = [a.shape[axis] for a in arrays]
        return backend.get_array_module(*arrays).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for n, needed in zip(ctx.splits, ctx.needs_input_grad):
            if needed:
                index = [slice(None)] * g.ndim
                index[ctx.axis] = slice(start, start + n)
                grads.append(g[tuple(index)])
            else:
                grads.append(None)
            start += n
        return tuple(grads)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return backend.get_array_module(*arrays).stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        return tuple(xp.take(g, i, axis=ctx.axis) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def reshape(a, shape):
    """Same data, new shape; one entry may be -1."""
    shape = tuple(int(s) for s in shape)
    try:
        return Reshape.apply(a, shape=tuple(a._data.reshape(shape).shape))
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.numel()} elements) "
                         f"into shape {shape}") from None


view = reshape


def permute(a, dims):
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    dims = tuple(dims)
    if len(dims) != a.ndim:
        raise ValueError(f"permute: `dims` must name each of the tensor's {a.ndim} dimensions "
                         f"once. Received: dims={dims}")
    seen = []
    for d in dims:   # in order, as PyTorch: the first bad entry decides the error
        seen.append(normalize_dim("permute", d, a.ndim))
        if seen[-1] in seen[:-1]:
            raise ValueError(f"permute: duplicate dims are not allowed. Received: dims={dims}")
    return Permute.apply(a, dims=tuple(seen))


def transpose(a, dim0, dim1):
    """Swap two axes."""
    d0, d1 = (normalize_dim("transpose", d, a.ndim) for d in (dim0, dim1))
    if a.ndim == 0:
        return permute(a, ())
    perm = list(range(a.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return permute(a, perm)


def flatten(input, start_dim=1, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one (default keeps the batch axis, like ``torch.flatten(x, 1)``).

    Shape: ``(N, C, H, W) -> (N, C*H*W)`` with the defaults.
    """
    nd = input.ndim
    s, e = (normalize_dim("flatten", d, nd) for d in (start_dim, end_dim))
    if nd == 0:
        return reshape(input, (1,))
    if s > e:
        raise ValueError(f"flatten: `start_dim` ({start_dim}) must not come after `end_dim` ({end_dim}) "
                         f"for a tensor of shape {input.shape}")
    shape = input.shape
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return reshape(input, shape[:s] + (merged,) + shape[e + 1:])


def squeeze(input, dim=None):
    """Drop size-1 dimensions: all of them, or ``dim`` (an int or a tuple) where its size is 1."""
    shape = input.shape
    if dim is None:
        return reshape(input, tuple(n for n in shape if n != 1))
    drop = set(normalize_dims("squeeze", dim, input.ndim))
    return reshape(input, tuple(n for i, n in enumerate(shape) if n != 1 or i not in drop))


def unsqueeze(input, dim):
    """Insert a size-1 dimension at ``dim`` (in [-ndim - 1, ndim])."""
    d = normalize_dim("unsqueeze", dim, input.ndim + 1)
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


def getitem(a, index):
    """``a[index]`` with basic or advanced indexing; repeated picks add their gradients."""
    if isinstance(index, Tensor):
        index = index._data
    elif isinstance(index, tuple):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    try:
        return GetItem.apply(a, index=index)
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} does not fit a tensor of shape {a.shape} ({e})") from None


def _check_sequence(name, tensors, axis):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}: `tensors` must hold at least one tensor. Received an empty sequence")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing axis ``dim`` (DenseNet's concatenation, Inception's branches)."""
    tensors = _check_sequence("cat", tensors, dim)
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             f"concatenated")
    # PyTorch's legacy rule: 1-D empty tensors (shape (0,)) join anything and are left out.
    kept = [t for t in tensors if t.shape != (0,)]
    if not kept:
        return Cat.apply(*tensors, axis=0)
    if len(kept) < len(tensors):
        return cat(kept, dim)
    nd = tensors[0].ndim
    axis = normalize_dim("cat", dim, nd)
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != nd or t.shape[:axis] != ref[:axis] or t.shape[axis + 1:] != ref[axis + 1:]:
            raise ValueError(f"cat: tensor {i} has shape {t.shape}, which does not match {ref} "
                             f"outside dim {dim}")
    return Cat.apply(*tensors, axis=axis)


concat = cat


def stack(tensors, dim=0):
    """Join same-shape tensors along a new axis ``dim``."""
    tensors = _check_sequence("stack", tensors, dim)
    ref = tensors[0].shape
    axis = normalize_dim("stack", dim, len(ref) + 1)
    for i, t in enumerate(tensors):
        if t.shape != ref:
            raise ValueError(f"stack: every tensor must have shape {ref}. Received shape {t.shape} for tensor {i}")
    return Stack.apply(*tensors, axis=axis)
