"""Element-wise arithmetic and math (+ - * / ** @, exp, log, sqrt, abs, clamp) with their gradients.

Broadcasting is NumPy's; the engine sums each gradient back to its input's shape (``unbroadcast``).
"""

from .. import backend
from ..autograd import Function
from ..tensor import Tensor


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None), (g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        xp = backend.get_array_module(a)
        out = xp.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = backend.get_array_module(g)
        ga = g * b * xp.power(a, b - 1) if ctx.needs_input_grad[0] else None
        # d(a^b)/db = a^b log a; defined as 0 where a == 0 (PyTorch's convention).
        gb = None
        if ctx.needs_input_grad[1]:
            safe = xp.where(a > 0, a, 1)
            gb = g * out * xp.log(safe)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


def unary(name, forward, backward, saves_output, module=__name__):
    """The Function class ``name``: ``out = forward(xp, a)``, gradient ``backward(g, saved)``.

    ``saved`` is the output when ``saves_output`` (a derivative cheaper from it, as exp's), else the input.
    """

    def fwd(ctx, a):
        out = forward(backend.get_array_module(a), a)
        ctx.save_for_backward(out if saves_output else a)
        return out

    def bwd(ctx, g):
        (saved,) = ctx.saved_tensors
        return backward(g, saved)

    doc = f"{name}: out = f(a), gradient from the saved {'output' if saves_output else 'input'}."
    return type(name, (Function,), {"__doc__": doc, "__module__": module, "__qualname__": name,
                                    "forward": staticmethod(fwd), "backward": staticmethod(bwd)})


def _sign(a):
    return backend.get_array_module(a).sign(a)  # sign(0) = 0, as PyTorch


Exp = unary("Exp", lambda xp, a: xp.exp(a), lambda g, out: g * out, saves_output=True)
Log = unary("Log", lambda xp, a: xp.log(a), lambda g, a: g / a, saves_output=False)
Sqrt = unary("Sqrt", lambda xp, a: xp.sqrt(a), lambda g, out: g / (2 * out), saves_output=True)
Abs = unary("Abs", lambda xp, a: xp.abs(a), lambda g, a: g * _sign(a), saves_output=False)


class Clamp(Function):
    """clip(a, lo, hi), either bound None; the gradient passes where lo <= a <= hi, bounds included
    (PyTorch's convention for clamp)."""

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        xp = backend.get_array_module(a)
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        keep = True
        if ctx.lo is not None:
            keep = a >= ctx.lo
        if ctx.hi is not None:
            keep = keep & (a <= ctx.hi)
        return g * keep


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class MatMul(Function):
    """``a @ b`` with NumPy's rules: 1-D operands are promoted to matrices, leading dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a                   # (..., n, k)
        b2 = b[:, None] if b.ndim == 1 else b                   # (..., k, m)
        g2 = g
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]                               # (..., n, m)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g2 @ b2.swapaxes(-1, -2)                       # (..., n, k)
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(axis=0)
        if ctx.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ g2                       # (..., k, m)
            if b.ndim == 1:
                gb = gb.reshape(-1, b.shape[0]).sum(axis=0)
        return ga, gb


def _check_operand(name, other):
    if isinstance(other, (Tensor, int, float)) or hasattr(other, "__array__"):
        return
    raise TypeError(f"{name}: operands must be tensors, arrays or numbers. Received {type(other).__name__}")


def _binary(fn, name, a, b):
    _check_operand(name, a)
    _check_operand(name, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        try:
            return fn.apply(a, b)
        except ValueError as e:
            raise ValueError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast together ({e})") from None
    return fn.apply(a, b)


def add(a, b):
    """``a + b`` with broadcasting."""
    return _binary(Add, "add", a, b)


def sub(a, b):
    """``a - b`` with broadcasting."""
    return _binary(Sub, "sub", a, b)


def mul(a, b):
    """``a * b`` with broadcasting."""
    return _binary(Mul, "mul", a, b)


def div(a, b):
    """``a / b`` with broadcasting."""
    return _binary(Div, "div", a, b)


def pow(a, b):
    """``a ** b`` with broadcasting."""
    return _binary(Pow, "pow", a, b)


def matmul(a, b):
    """Matrix product ``a @ b`` (NumPy semantics)."""
    _check_operand("matmul", a)
    _check_operand("matmul", b)
    sa, sb = getattr(a, "shape", ()), getattr(b, "shape", ())
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: both operands need at least one dimension. Received shapes {sa} and {sb}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ValueError(f"matmul: inner dimensions differ: {sa} @ {sb} ({ka} != {kb})")
    return MatMul.apply(a, b)


def _one_tensor(fn, name, doc):
    """The public function ``name(a)``: the Function ``fn`` applied to the tensor ``a``."""

    def op(a):
        return fn.apply(a)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


neg = _one_tensor(Neg, "neg", "``-a``, element-wise.")
exp = _one_tensor(Exp, "exp", "``e ** a``, element-wise.")
log = _one_tensor(Log, "log", "The natural logarithm of ``a``, element-wise.")
sqrt = _one_tensor(Sqrt, "sqrt", "The square root of ``a``, element-wise.")
abs = _one_tensor(Abs, "abs", "``|a|``, element-wise; its gradient at 0 is 0, as PyTorch's.")
clone = _one_tensor(Clone, "clone", "A copy of ``a`` in the graph: its gradient flows back to ``a``.")


def clamp(a, min=None, max=None):
    """Limit values to [min, max]; the gradient passes where the value was inside."""
    return Clamp.apply(a, lo=min, hi=max)
