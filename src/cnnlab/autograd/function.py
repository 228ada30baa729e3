"""``Function``: one differentiable op, its forward and backward side by side on raw arrays."""

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
    """The record an output keeps of the op that made it: the Function, its context and inputs."""

    __slots__ = ("fn", "ctx", "inputs")

    def __init__(self, fn, ctx, inputs):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs  # one entry per positional input: the Tensor if it wants a grad, else None

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
                raw.append(a.data)
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
            result._node = Node(cls, ctx, tuple(a if n else None for a, n in zip(inputs, needs)))
        if extras:
            return (result,) + tuple(Tensor._wrap(e) for e in extras)
        return result

