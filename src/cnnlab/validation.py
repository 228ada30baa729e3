"""Argument checks for every layer of cnnlab, in one vocabulary.

Each error names the function, the argument, what was expected and what was received:

    ValueError: conv2d: `stride` must be a positive int or a pair of positive ints.
    Received: stride=(0, 1)

(one line in the message). A wrong kind of value (a string for a number) is a ``TypeError``; a value
of the right kind out of range is a ``ValueError``. Booleans are never accepted as numbers (``True``
is an ``int`` to Python, never a stride to us). This module sits at the bottom of the package: it
imports nothing from cnnlab, so any layer may use it. Tensor inputs are recognised through the
``Tensor`` class that ``cnnlab.tensor`` registers here when it is defined
(:func:`register_tensor_type`).
"""

import math
import numbers
import os

REDUCTIONS = ("none", "mean", "sum")
PADDING_STRINGS = ("valid", "same")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")   # a convolution's padding_mode
INTERPOLATE_MODES = ("nearest", "nearest-exact", "bilinear")

_TENSOR = []   # [Tensor], filled by cnnlab.tensor; validation sits below it and cannot import it


# --------------------------------------------------------------------------------------- predicates
def is_int(value):
    """True for a Python or NumPy integer, False for a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """True for an int or float (Python or NumPy), False for a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _int_kind(minimum, maximum=None):
    """The words for an int in range: 'a positive int', 'an int in [0, 9]', ..."""
    if maximum is not None:
        return f"an int in [{'-inf' if minimum is None else minimum}, {maximum}]"
    named = {None: "an int", 1: "a positive int", 0: "a non-negative int"}
    return named.get(minimum, f"an int >= {minimum}")


# ------------------------------------------------------------------------------------------ scalars
def int_arg(fn, name, value, minimum=None, maximum=None):
    """``value`` as an int, checking it is an integer (not a bool) in [minimum, maximum].

    A bound of None leaves that side open.

    A non-integer is a ``TypeError`` ("must be an int"); an integer out of range a ``ValueError``
    ("must be a positive int", "must be an int in [0, 9]").
    """
    if not is_int(value):
        raise TypeError(f"{fn}: `{name}` must be an int. Received: {name}={value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        kind = _int_kind(minimum, maximum)
        raise ValueError(f"{fn}: `{name}` must be {kind}. Received: {name}={value!r}")
    return int(value)


def real_arg(fn, name, value, low=None, high=None, low_open=False, high_open=False, finite=False):
    """``value`` as a float, checking it is a real number in the interval [low, high].

    ``low_open``/``high_open`` exclude an end; ``finite`` rejects NaN and +-inf (NaN is also outside
    any bounded interval).
    """
    if not is_real(value):
        kind = "a finite real number" if finite else "a real number"
        raise TypeError(f"{fn}: `{name}` must be {kind}. Received: {name}={value!r}")
    value = float(value)
    if finite and not math.isfinite(value):
        raise ValueError(f"{fn}: `{name}` must be a finite real number. Received: {name}={value!r}")
    too_low = low is not None and not (value > low if low_open else value >= low)
    too_high = high is not None and not (value < high if high_open else value <= high)
    if too_low or too_high:
        raise ValueError(f"{fn}: `{name}` must be {interval(low, high, low_open, high_open)}. "
                         f"Received: {name}={value!r}")
    return value


def set_real_args(obj, fn, **values):
    """Check each keyword is a real number (``real_arg``) and set it, as given, as ``obj``'s attribute of
    that name: hyper-parameters keep the caller's form, so a repr or a saved state shows ``gamma=1`` as
    PyTorch's does, not ``1.0``."""
    for name, value in values.items():
        real_arg(fn, name, value)
        setattr(obj, name, value)


def set_count_args(obj, fn, **values):
    """Check each keyword is a positive int (``int_arg``: a period, a number of epochs) and set it, as
    given, as ``obj``'s attribute of that name."""
    for name, value in values.items():
        int_arg(fn, name, value, minimum=1)
        setattr(obj, name, value)


def interval(low=None, high=None, low_open=False, high_open=False):
    """The words for a range of reals: 'in [0, 1]', 'in [0, 1)', '>= 0', '> 0', '<= 1'."""
    if high is None and low is not None:
        return f"{'>' if low_open else '>='} {_num(low)}"
    if low is None and high is not None:
        return f"{'<' if high_open else '<='} {_num(high)}"
    return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"


def _num(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def bool_arg(fn, name, value):
    """``value`` itself, checking it is a bool (not 0/1)."""
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: `{name}` must be a bool. Received: {name}={value!r}")
    return value


def choice(fn, name, value, options):
    """``value``, checking it is one of ``options`` (listed in the message)."""
    if not isinstance(value, (str, numbers.Number, type(None))) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{fn}: `{name}` must be one of {listed}. Received: {name}={value!r}")
    return value


def reduction_arg(fn, reduction):
    """A loss's ``reduction``: 'none', 'mean' or 'sum'."""
    return choice(fn, "reduction", reduction, REDUCTIONS)


def padding_mode_arg(fn, padding_mode):
    """A convolution's ``padding_mode``: 'zeros', 'reflect', 'replicate' or 'circular'."""
    return choice(fn, "padding_mode", padding_mode, PADDING_MODES)


# -------------------------------------------------------------------------------------------- pairs
def pair(fn, name, value, minimum=1):
    """Normalise an int or a pair of ints to a pair, checking each is an integer >= ``minimum``.

    ``pair("conv2d", "stride", (0, 1))`` raises
    ``ValueError: conv2d: `stride` must be a positive int or a pair of positive ints.
    Received: stride=(0, 1)`` (in one line).
    """
    kind = {1: "positive int", 0: "non-negative int"}.get(minimum, f"int >= {minimum}")
    message = f"{fn}: `{name}` must be a {kind} or a pair of {kind}s. Received: {name}={value!r}"
    if is_int(value):
        value = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        value = (int(value[0]), int(value[1]))
    else:
        wrong_kind = not isinstance(value, (numbers.Integral, tuple, list))
        raise (TypeError if wrong_kind else ValueError)(message)
    if value[0] < minimum or value[1] < minimum:
        raise ValueError(message)
    return value


def padding_pairs(fn, padding, kernel_size, stride, dilation):
    """Normalise a convolution's ``padding`` to ((top, bottom), (left, right)).

    Accepts "valid", "same" (stride 1 only; total d*(k-1), the odd pixel on the bottom/right, as
    PyTorch), an int, a pair (vertical, horizontal) or ((top, bottom), (left, right)).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if tuple(stride) != (1, 1):
                raise ValueError(f"{fn}: padding='same' is only supported with stride 1 (the "
                                 f"output could not keep the input size). Received: "
                                 f"padding='same', stride={stride}")
            totals = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
            return tuple((t // 2, t - t // 2) for t in totals)
        listed = ", ".join(repr(s) for s in PADDING_STRINGS)
        raise ValueError(f"{fn}: `padding` string must be one of {listed}. "
                         f"Received: padding={padding!r}")
    expected = ("`padding` must be 'valid', 'same', a non-negative int, a pair of non-negative "
                "ints (vertical, horizontal) or ((top, bottom), (left, right))")
    if is_int(padding):
        pads = ((padding, padding), (padding, padding))
    elif _is_seq(padding, 2) and all(is_int(p) for p in padding):
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    elif _is_seq(padding, 2) and all(_is_seq(p, 2) and all(is_int(v) for v in p) for p in padding):
        pads = (tuple(padding[0]), tuple(padding[1]))
    else:
        raise (ValueError if isinstance(padding, (tuple, list)) else TypeError)(
            f"{fn}: {expected}. Received: padding={padding!r}")
    pads = tuple((int(a), int(b)) for a, b in pads)
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"{fn}: {expected}; negative padding is not allowed. "
                         f"Received: padding={padding!r}")
    return pads


def _is_seq(value, length):
    return isinstance(value, (tuple, list)) and len(value) == length


# ------------------------------------------------------------------------------------------ tensors
def register_tensor_type(tensor_type):
    """Called once by ``cnnlab.tensor``: the class that :func:`tensor_arg` accepts."""
    _TENSOR[:] = [tensor_type]


def tensor_arg(fn, name, value, ndim=None, shape_hint=None):
    """``value`` as a Tensor (arrays are wrapped), with ``ndim`` (an int or a tuple) dimensions."""
    tensor = _TENSOR[0]
    if not isinstance(value, tensor):
        if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
            value = tensor(value)
        else:
            raise TypeError(f"{fn}: `{name}` must be a Tensor. "
                            f"Received an object of type {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            hint = f" {shape_hint}" if shape_hint else ""
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{fn}: `{name}` must be {want}{hint}. "
                             f"Received a {value.ndim}-D tensor of shape {value.shape}")
    return value


def tensor_like(fn, name, value, shape, dtype=None, whose="", why=""):
    """``value`` as a Tensor of exactly ``shape`` and, when given, ``dtype``: a bias, a state or a
    per-channel vector that must fit the tensors it joins. ``why`` follows the expected shape in the
    message (``", one value per channel"``); ``whose`` names the tensor whose dtype it must share."""
    value = tensor_arg(fn, name, value)
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{fn}: `{name}` must have shape {tuple(shape)}{why}. "
                         f"Received {name} shape {tuple(value.shape)}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{fn}: `{name}` must have the {whose} dtype {dtype}. Received dtype {value.dtype}")
    return value


def floating(fn, name, t):
    """``t``, checking its dtype is one cnnlab computes in: float32 or float64.

    float16 (and longer floats) can be held and converted but not computed with: the kernels are
    compiled for float32 and float64 only, so the op refuses them here in one line instead of
    failing deep inside Numba.
    """
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: `{name}` must be a floating tensor (float32 or float64). "
                        f"Received dtype {t.dtype}")
    if t.dtype.itemsize not in (4, 8):
        raise TypeError(f"{fn}: `{name}` must be a floating tensor (float32 or float64). "
                        f"Received dtype {t.dtype} (cnnlab computes in float32 and float64 only; "
                        f"convert with .float())")
    return t


# ------------------------------------------------------------------------------------- dimensions
def normalize_dim(fn, dim, ndim):
    """``dim`` as an index in [0, ndim), checking it lies in [-ndim, ndim - 1] as PyTorch does.

    A 0-d tensor takes 0 and -1 (PyTorch treats it as having one dimension for this check). Ops
    that insert a dimension (``unsqueeze``, ``stack``) pass ``ndim + 1``. Out of range is an
    ``IndexError`` with PyTorch's message::

        IndexError: cat: Dimension out of range (expected to be in range of [-2, 1], but got 2)
    """
    if not is_int(dim):
        raise TypeError(f"{fn}: `dim` must be an int. Received: dim={dim!r}")
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(f"{fn}: Dimension out of range (expected to be in range of "
                         f"[{-bound}, {bound - 1}], but got {dim})")
    return int(dim) % bound


def normalize_dims(fn, dims, ndim, in_order=False):
    """A tuple of dims (or one int) as sorted indices in [0, ndim); each checked by
    :func:`normalize_dim`, and none repeated (``ValueError``, where PyTorch raises).

    Where a list has both faults, PyTorch reports the range first for most ops (sum, mean, amax)
    and the first faulty entry for others (var, permute): ``in_order=True`` gives the latter.
    """
    items = (dims,) if is_int(dims) else dims
    if not isinstance(items, (tuple, list)):
        raise TypeError(f"{fn}: `dim` must be an int or a tuple of ints. Received: dim={dims!r}")
    out = [] if in_order else [normalize_dim(fn, d, ndim) for d in items]
    for i, d in enumerate(items):
        if in_order:
            out.append(normalize_dim(fn, d, ndim))
        if out[i] in out[:i]:
            raise ValueError(f"{fn}: dim {out[i]} appears multiple times in the list of dims. "
                             f"Received: dim={dims!r}")
    return tuple(sorted(out))


# ----------------------------------------------------------------------------- command-line values
# argparse ``type=`` functions: the command line's numbers are checked where they are parsed, all
# in one vocabulary, so every option answers a bad value with one line (argparse prefixes the
# option's name): ``cnnlab train: error: argument --lr: must be a finite number >= 0.
# Received: 'inf'``. Ints are capped at the largest int64, so no count overflows an array index.
INT64_MAX = 2 ** 63 - 1


def cli_int(minimum=None, maximum=INT64_MAX):
    """An argparse ``type=``: the text as an int in [minimum, maximum]."""
    import argparse   # only the command line needs it; `import cnnlab` stays without it

    kind = _int_kind(minimum, None if maximum == INT64_MAX else maximum)

    def parse(text):
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {kind}. Received: {text!r}") from None
        too_large = maximum is not None and value > maximum
        if (minimum is not None and value < minimum) or too_large:
            largest = f" (at most {maximum})" if too_large and maximum == INT64_MAX else ""
            raise argparse.ArgumentTypeError(f"must be {kind}{largest}. Received: {text!r}")
        return value

    parse.__name__ = "int"
    return parse


def cli_real(low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type=``: the text as a finite float in the interval (see :func:`interval`)."""
    import argparse   # only the command line needs it

    words = "a finite number" + (f" {interval(low, high, low_open, high_open)}"
                                 if low is not None or high is not None else "")

    def parse(text):
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {words}. Received: {text!r}") from None
        try:
            return real_arg("", "", value, low, high, low_open, high_open, finite=True)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {words}. Received: {text!r}") from None

    parse.__name__ = "float"
    return parse


# ------------------------------------------------------------------------------ who raised it
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def raised_on_purpose(error):
    """Whether ``error`` was raised by a ``raise`` statement in cnnlab's own code: one of its
    checks (this module's, a path's, a checkpoint's, a dataset's) refusing what it was given.

    An exception raised inside NumPy, Numba or Python itself (a failed reshape, ``int('x')``, a
    call with the wrong arguments) is not: where it surfaces, it is a defect of cnnlab. The
    innermost frame of the traceback decides: it must be cnnlab's, stopped at a ``raise``.
    """
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    if not os.path.abspath(code.co_filename).startswith(_PACKAGE_DIR):
        return False
    import dis   # only an error being reported needs it

    return any(i.offset == tb.tb_lasti and i.opname == "RAISE_VARARGS"
               for i in dis.get_instructions(code))
