"""cnnlab.validation: the one argument-check module and its one vocabulary."""

import numpy as np
import pytest

import cnnlab
from cnnlab import validation as V


def test_bools_are_never_numbers_and_numpy_scalars_are():
    assert V.is_int(3) and V.is_int(np.int64(3)) and not V.is_int(True) and not V.is_int(3.0)
    assert V.is_real(2.5) and V.is_real(np.float32(2.5)) and V.is_real(2) and not V.is_real(False)
    assert not V.is_real("1")


@pytest.mark.parametrize("call,error,message", [
    (lambda: V.int_arg("f", "n", "3"), TypeError, "f: `n` must be an int. Received: n='3'"),
    (lambda: V.int_arg("f", "n", True, minimum=1), TypeError, "f: `n` must be an int. Received: n=True"),
    (lambda: V.int_arg("f", "n", 0, minimum=1), ValueError, "f: `n` must be a positive int. Received: n=0"),
    (lambda: V.int_arg("f", "n", -1, minimum=0), ValueError, "f: `n` must be a non-negative int. Received: n=-1"),
    (lambda: V.int_arg("f", "n", -2, minimum=-1), ValueError, "f: `n` must be an int >= -1. Received: n=-2"),
    (lambda: V.int_arg("f", "n", 17, minimum=1, maximum=16), ValueError,
     "f: `n` must be an int in [1, 16]. Received: n=17"),
    (lambda: V.real_arg("f", "x", None), TypeError, "f: `x` must be a real number. Received: x=None"),
    (lambda: V.real_arg("f", "x", "a", finite=True), TypeError, "f: `x` must be a finite real number. Received: x='a'"),
    (lambda: V.real_arg("f", "x", float("inf"), finite=True), ValueError,
     "f: `x` must be a finite real number. Received: x=inf"),
    (lambda: V.real_arg("f", "x", 1.5, 0, 1), ValueError, "f: `x` must be in [0, 1]. Received: x=1.5"),
    (lambda: V.real_arg("f", "x", 1.0, 0, 1, high_open=True), ValueError, "f: `x` must be in [0, 1). Received: x=1.0"),
    (lambda: V.real_arg("f", "x", 0.0, low=0, low_open=True), ValueError, "f: `x` must be > 0. Received: x=0.0"),
    (lambda: V.real_arg("f", "x", -0.5, low=0.0), ValueError, "f: `x` must be >= 0. Received: x=-0.5"),
    (lambda: V.real_arg("f", "x", float("nan"), low=0.0), ValueError, "f: `x` must be >= 0. Received: x=nan"),
    (lambda: V.real_arg("f", "x", 2.0, high=1), ValueError, "f: `x` must be <= 1. Received: x=2.0"),
    (lambda: V.bool_arg("f", "flag", 1), TypeError, "f: `flag` must be a bool. Received: flag=1"),
    (lambda: V.choice("f", "mode", "avg", ("min", "max")), ValueError,
     "f: `mode` must be one of 'min', 'max'. Received: mode='avg'"),
    (lambda: V.choice("f", "mode", ["min"], ("min", "max")), ValueError,
     "f: `mode` must be one of 'min', 'max'. Received: mode=['min']"),
    (lambda: V.reduction_arg("mse_loss", "avg"), ValueError,
     "mse_loss: `reduction` must be one of 'none', 'mean', 'sum'. Received: reduction='avg'"),
    (lambda: V.pair("conv2d", "stride", (0, 1)), ValueError,
     "conv2d: `stride` must be a positive int or a pair of positive ints. Received: stride=(0, 1)"),
    (lambda: V.pair("conv2d", "stride", 1.5), TypeError,
     "conv2d: `stride` must be a positive int or a pair of positive ints. Received: stride=1.5"),
    (lambda: V.pair("conv2d", "padding", (1, 2, 3), minimum=0), ValueError,
     "conv2d: `padding` must be a non-negative int or a pair of non-negative ints. Received: padding=(1, 2, 3)"),
    (lambda: V.padding_pairs("conv2d", "full", (3, 3), (1, 1), (1, 1)), ValueError,
     "conv2d: `padding` string must be one of 'valid', 'same'. Received: padding='full'"),
    (lambda: V.padding_pairs("conv2d", "same", (3, 3), (2, 2), (1, 1)), ValueError,
     "conv2d: padding='same' is only supported with stride 1"),
    (lambda: V.padding_pairs("conv2d", (1, -1), (3, 3), (1, 1), (1, 1)), ValueError,
     "conv2d: `padding` must be 'valid', 'same', a non-negative int, a pair of non-negative ints (vertical, "
     "horizontal) or ((top, bottom), (left, right)); negative padding is not allowed. Received: padding=(1, -1)"),
    (lambda: V.padding_pairs("conv2d", 1.0, (3, 3), (1, 1), (1, 1)), TypeError,
     "conv2d: `padding` must be 'valid', 'same', a non-negative int"),
    (lambda: V.tensor_arg("relu", "input", "x"), TypeError,
     "relu: `input` must be a Tensor. Received an object of type str"),
    (lambda: V.tensor_arg("conv2d", "input", np.zeros((2, 3)), ndim=(3, 4), shape_hint="(N, C, H, W)"), ValueError,
     "conv2d: `input` must be 3-D or 4-D (N, C, H, W). Received a 2-D tensor of shape (2, 3)"),
    (lambda: V.tensor_like("linear", "bias", np.zeros(3), (4,), why=" to match weight shape (4, 2)"), ValueError,
     "linear: `bias` must have shape (4,) to match weight shape (4, 2). Received bias shape (3,)"),
    (lambda: V.tensor_like("LSTMCell", "h", np.zeros(4, np.float32), (4,), np.dtype(np.float64), "input's"),
     TypeError, "LSTMCell: `h` must have the input's dtype float64. Received dtype float32"),
    (lambda: V.floating("relu", "input", cnnlab.tensor(np.arange(3))), TypeError,
     "relu: `input` must be a floating tensor (float32 or float64). Received dtype int64"),
])
def test_each_check_says_function_argument_expectation_and_value(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message)


def test_values_come_back_normalised():
    assert V.int_arg("f", "n", np.int32(4), minimum=1) == 4 and type(V.int_arg("f", "n", np.int32(4))) is int
    assert V.real_arg("f", "x", 1) == 1.0 and V.bool_arg("f", "b", False) is False
    assert V.pair("f", "k", 3) == (3, 3) and V.pair("f", "k", [2, 5]) == (2, 5)
    assert V.padding_pairs("f", "same", (4, 3), (1, 1), (1, 2)) == ((1, 2), (2, 2))   # odd pixel bottom/right
    assert V.padding_pairs("f", ((1, 2), (3, 4)), (3, 3), (1, 1), (1, 1)) == ((1, 2), (3, 4))
    assert V.padding_pairs("f", (1, 2), (3, 3), (2, 2), (1, 1)) == ((1, 1), (2, 2))
    wrapped = V.tensor_arg("f", "x", np.ones((2, 2)), ndim=2)
    assert isinstance(wrapped, cnnlab.Tensor) and wrapped.shape == (2, 2)
    fitted = V.tensor_like("f", "b", np.ones(3), (3,), np.dtype(np.float64))
    assert isinstance(fitted, cnnlab.Tensor) and fitted.shape == (3,)


def test_set_args_check_each_keyword_then_keep_it_as_given():
    held = type("Held", (), {})()
    V.set_real_args(held, "f", gamma=1, eta_min=np.float32(0.5))
    V.set_count_args(held, "f", step_size=np.int64(3))
    assert (held.gamma, held.eta_min, held.step_size) == (1, 0.5, 3)
    assert type(held.gamma) is int and type(held.step_size) is np.int64   # kept as given, not converted
    with pytest.raises(TypeError, match=r"^f: `k` must be a real number\. Received: k='1'$"):
        V.set_real_args(held, "f", alpha=2.0, k="1")
    assert held.alpha == 2.0 and not hasattr(held, "k")                   # the checks run in keyword order
    with pytest.raises(ValueError, match=r"^f: `T_max` must be a positive int\. Received: T_max=0$"):
        V.set_count_args(held, "f", T_max=0)
