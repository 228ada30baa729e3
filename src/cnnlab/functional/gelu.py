"""``gelu``: the Gaussian error linear unit x * Phi(x), exact or with the tanh approximation."""

import math

from .. import backend
from ..autograd import Function
from ..validation import floating, tensor_arg

APPROXIMATIONS = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf_ufunc = None


def _erf_scalar(v):
    return math.erf(v)


def _erf(x):
    """The error function elementwise. NumPy has none, so ``math.erf`` runs as a Numba ufunc
    (compiled on first use); on a GPU array this is refused rather than guessed."""
    global _erf_ufunc
    if backend.device_of(x).type != "cpu":
        raise RuntimeError("gelu: approximate='none' (the exact erf form) runs on the CPU only; "
                           f"received a tensor on {backend.device_of(x)}. Use approximate='tanh' "
                           "there")
    if _erf_ufunc is None:
        from numba import vectorize

        _erf_ufunc = vectorize(["float32(float32)", "float64(float64)"], cache=True)(_erf_scalar)
    return _erf_ufunc(x)


class GELU(Function):
    """Exact: x * Phi(x), Phi the standard normal CDF; d/dx = Phi(x) + x * phi(x).
    Tanh: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
    d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u)."""

    @staticmethod
    def forward(ctx, x, approximate="none"):
        xp = backend.get_array_module(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            ctx.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        cdf = 0.5 * (1 + _erf(x * x.dtype.type(_INV_SQRT_2)))
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        x, saved = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = saved
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        pdf = _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
        return g * (saved + x * pdf)


def gelu(input, approximate="none"):
    """GELU(x) = x * Phi(x), as ``torch.nn.functional.gelu``; ``approximate="tanh"`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (BERT, GPT-2).

    Shape: any; the output has the input's shape and dtype.
    """
    fn = "gelu"
    input = floating(fn, "input", tensor_arg(fn, "input", input))
    if approximate not in APPROXIMATIONS:
        raise ValueError(f"{fn}: `approximate` must be 'none' or 'tanh'. "
                         f"Received: approximate={approximate!r}")
    return GELU.apply(input, approximate=approximate)

