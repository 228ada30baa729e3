"""``Function``: one differentiable op, its forward and backward side by side on raw arrays."""

import weakref

from . import grad_mode
from .. import tensor as _tensor  # partially initialised while tensor.py imports autograd; used at call time


class Context:
    """Scratch space an op's forward leaves for its backward.

    ``needs_input_grad[i]`` tells whether positional input ``i`` is a tensor that wants a gradient,
    so backward can skip work nobody asked for.
    """

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Node:
    """The record an output keeps of the op that made it: the Function, its context and inputs.

    As in PyTorch, the graph holds the nodes that made its non-leaf inputs, not those tensors: an
    activation no op saved for its backward (a batch norm's output before a residual sum) is freed
    as soon as the user's code lets it go, instead of living until backward (resnet20 at batch 128
    kept 48 MiB more so). The node reaches its output through a weak reference, for that tensor's
    hooks and ``retain_grad``.
    """

    __slots__ = ("fn", "ctx", "inputs", "shape", "output", "kept")

    def __init__(self, fn, ctx, inputs, output):
        self.fn = fn
        self.ctx = ctx
        # One entry per positional input: None when it wants no gradient, the tensor for a leaf, else
        # the Node that made it.
        self.inputs = inputs
        self.shape = output._data.shape     # what its gradient must be summed down to
        self.kept = None
        self.bind(output)

    def bind(self, output):
        """Make ``output`` the tensor this node's gradient belongs to (an in-place op moves a node's
        tensor); a tensor with gradient hooks is held, so that they run even once the user let it go."""
        self.output = weakref.ref(output)
        if self.kept is not None:
            self.kept = output

    def name(self):
        return f"{self.fn.__name__}Backward"

    def __repr__(self):
        return f"<{self.name()}>"


class Function:
    """Base class of every op.

    Subclasses define ``forward(ctx, *inputs, **params)`` and ``backward(ctx, grad_output)`` as static
    methods on raw arrays. Positional inputs that are Tensors are unwrapped to arrays before forward;
    keyword arguments are passed through unchanged (op settings such as stride). ``backward`` returns
    one gradient per positional input (``None`` where not needed; a shorter tuple means the rest are
    ``None``) and must not modify ``grad_output`` in place. Forward may return a tuple: the first array
    is the differentiable output, the others come back as plain tensors (e.g. pooling indices).
    """

    @staticmethod
    def forward(ctx, *inputs, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        Tensor = _tensor.Tensor
        raw = []
        needs = []
        any_grad = False
        for a in inputs:
            if isinstance(a, Tensor):
                raw.append(a._data)
                rg = a.requires_grad
                needs.append(rg)
                any_grad = any_grad or rg
            else:
                raw.append(a)
                needs.append(False)
        ctx = Context()
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **params)
        extras = ()
        if isinstance(out, tuple):
            out, extras = out[0], out[1:]
        result = Tensor._wrap(out)
        if any_grad and grad_mode._enabled:
            result.requires_grad = True
            recorded = tuple((a if a._node is None else a._node) if n else None for a, n in zip(inputs, needs))
            result._node = Node(cls, ctx, recorded, result)
            for a, n in zip(inputs, needs):
                if n:
                    a._consumers += 1   # in-place changes check it (functional/inplace.py)
            ctx.saved_versions = _saved_versions(ctx, inputs, result)
        if extras:
            return (result,) + tuple(Tensor._wrap(e) for e in extras)
        return result



def _saved_versions(ctx, inputs, result):
    """``(weakref to tensor, version)`` for each input or output whose very array ``ctx`` kept.

    Backward compares the versions again: an in-place change to a tensor after an op saved it
    (``y = x.exp(); y.add_(1)``) would silently give a wrong gradient, so it is an error, as in
    PyTorch. Arrays an op derived (masks, copies) are not affected by such a change.
    """
    Tensor = _tensor.Tensor
    owners = {id(a._data): a for a in inputs if isinstance(a, Tensor)}
    owners[id(result._data)] = result
    found = []
    for value in ctx.__dict__.values():
        for array in value if isinstance(value, tuple) else (value,):
            t = owners.get(id(array))
            if t is not None:
                found.append((weakref.ref(t), t._version))
    return found
