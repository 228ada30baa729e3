"""The fuzz's oracle: run one call on PyTorch and on cnnlab, and demand the same outcome.

Same outcome means: both raise, or neither does. When both return, the outputs agree in shape,
kind of dtype and value (float64, 1e-8 relative), and so does every floating input's gradient
under a random upstream gradient. When both raise, the exception classes correspond:

    PyTorch IndexError                   -> IndexError
    PyTorch TypeError                    -> TypeError
    PyTorch RuntimeError or ValueError   -> ValueError, TypeError or RuntimeError

(PyTorch reports most bad values and wrong dtypes as RuntimeError; cnnlab names them ValueError
and TypeError, its own vocabulary.)

Budget: ``CI_EXAMPLES`` drawn examples per op, derandomized so CI is stable. ``CNNLAB_FUZZ=long``
draws ``LONG_EXAMPLES`` per op with fresh randomness each run (``CNNLAB_FUZZ=<number>`` sets the
count), for a search on demand::

    CNNLAB_FUZZ=long pytest tests/fuzz
"""

import os
import warnings

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import cnnlab

CI_EXAMPLES = 25
LONG_EXAMPLES = 2000

_MODE = os.environ.get("CNNLAB_FUZZ", "")
EXAMPLES = (LONG_EXAMPLES if _MODE == "long" else int(_MODE) if _MODE.isdigit()
            else CI_EXAMPLES)

# One settings object for every fuzz test: a fixed number of examples, no deadline (the first call
# of an op may compile a kernel), derandomized unless a longer search was asked for.
FUZZ = settings(max_examples=EXAMPLES, derandomize=EXAMPLES == CI_EXAMPLES, deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])

_ERRORS = {IndexError: (IndexError,), TypeError: (TypeError,),
           RuntimeError: (ValueError, TypeError, RuntimeError),
           ValueError: (ValueError, TypeError, RuntimeError)}


# ------------------------------------------------------------------------------------ strategies
def shapes(min_dims=0, max_dims=4, min_side=0, max_side=3):
    """Shapes with 0-d and empty (a side of 0) tensors among them."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple)


def dim_for(ndim, extra=0):
    """Any dim an op could be given for an ``ndim``-D tensor, including two out of range on each
    side; ``extra=1`` for ops that insert a dimension."""
    bound = max(ndim + extra, 1)
    return st.integers(-bound - 2, bound + 1)


def arrays(shape, seed, ties=False):
    """float64 values for ``shape``; ``ties`` rounds them so that equal values (ties) are common."""
    a = np.asarray(np.random.default_rng(seed).standard_normal(shape))   # 0-d stays an array
    return np.asarray(np.round(a)) if ties else a


# -------------------------------------------------------------------------------------- the oracle
def _torch_input(torch, a, grad):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return torch.tensor(a, requires_grad=grad)
    if isinstance(a, np.ndarray):
        return torch.tensor(a)
    return a


def _our_input(a, grad):
    if isinstance(a, np.ndarray):
        return cnnlab.tensor(a, requires_grad=grad and a.dtype.kind == "f")
    return a


def _outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


def same_as_torch(call, inputs, grad=True, seed=0):
    """Run ``call(module, *tensors)`` with ``module`` torch and then cnnlab; assert the same outcome.

    ``inputs`` are NumPy arrays (made tensors; floating ones get gradients when ``grad``) or other
    values passed as they are (a list of arrays becomes a list of tensors).
    """
    import torch

    def convert(make, a):
        if isinstance(a, list):
            return [make(x) for x in a]
        return make(a)

    theirs = [convert(lambda x: _torch_input(torch, x, grad), a) for a in inputs]
    ours = [convert(lambda x: _our_input(x, grad), a) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = call(torch, *theirs)
        except (IndexError, TypeError, RuntimeError, ValueError) as e:
            expected = e
        try:
            got = call(cnnlab, *ours)
        except Exception as e:   # any class, so a crash such as ZeroDivisionError is reported
            got = e
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), (
            f"PyTorch raised {type(expected).__name__}({expected}) but cnnlab returned "
            f"{_describe(got)}")
        allowed = next(v for k, v in _ERRORS.items() if isinstance(expected, k))
        assert isinstance(got, allowed), (
            f"PyTorch raised {type(expected).__name__}({expected}); cnnlab raised "
            f"{type(got).__name__}({got})")
        return
    if isinstance(got, Exception):
        raise AssertionError(f"cnnlab raised {type(got).__name__}({got}) where PyTorch returned "
                             f"{_describe(expected)}") from got
    exp_list, got_list = _outputs(expected), _outputs(got)
    assert len(exp_list) == len(got_list), "a different number of outputs"
    for e, g in zip(exp_list, got_list):
        e_np, g_np = e.detach().numpy(), g.numpy()
        assert g_np.shape == e_np.shape, f"shape {g_np.shape} != PyTorch's {e_np.shape}"
        assert g_np.dtype.kind == e_np.dtype.kind, f"dtype {g_np.dtype} != PyTorch's {e_np.dtype}"
        np.testing.assert_allclose(g_np, e_np, rtol=1e-8, atol=1e-10, equal_nan=True,
                                   err_msg="forward values")
    _compare_gradients(torch, exp_list[0], got_list[0], theirs, ours, seed)


def _compare_gradients(torch, expected, got, theirs, ours, seed):
    if not expected.requires_grad or expected.dtype != torch.float64:
        return
    upstream = np.random.default_rng(seed).standard_normal(tuple(expected.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected.backward(torch.tensor(upstream))
        got.backward(cnnlab.tensor(upstream))
    flat_t = [x for a in theirs for x in (a if isinstance(a, list) else [a])]
    flat_o = [x for a in ours for x in (a if isinstance(a, list) else [a])]
    for i, (t, o) in enumerate(zip(flat_t, flat_o)):
        if not isinstance(t, torch.Tensor) or not t.requires_grad:
            continue
        want = t.grad.numpy() if t.grad is not None else np.zeros(tuple(t.shape))
        have = o.grad.numpy() if o.grad is not None else np.zeros(o.shape)
        np.testing.assert_allclose(have, want, rtol=1e-8, atol=1e-10, equal_nan=True,
                                   err_msg=f"gradient of input {i}")


def _describe(value):
    if isinstance(value, Exception):
        return f"{type(value).__name__}({value})"
    return f"outputs of shapes {[tuple(v.shape) for v in _outputs(value)]}"


def functional(module):
    """``torch.nn.functional`` or ``cnnlab.functional``, for calls written once for both."""
    return module.nn.functional if module.__name__ == "torch" else module.functional
