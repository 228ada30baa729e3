"""Constructor argument checks shared by the layers (one wording: layer, argument, value, expectation)."""

import numbers


def int_arg(fn, name, value, minimum=1):
    """``value`` as an int, checking it is an integer (not a bool) >= ``minimum`` (None: any int)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: `{name}` must be an int. Received: {name}={value!r}")
    if minimum is not None and value < minimum:
        kind = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{fn}: `{name}` must be {kind}. Received: {name}={value!r}")
    return int(value)


def real_arg(fn, name, value, low=None, high=None, low_open=False):
    """``value`` as a float, checking it is a real number in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: `{name}` must be a real number. Received: {name}={value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        want = f"in {left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{fn}: `{name}` must be {want}. Received: {name}={value!r}")
    return value


def bool_arg(fn, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: `{name}` must be a bool. Received: {name}={value!r}")
    return value


REDUCTIONS = ("none", "mean", "sum")


def reduction_arg(fn, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: `reduction` must be one of 'none', 'mean', 'sum'. Received: reduction={reduction!r}")
    return reduction
