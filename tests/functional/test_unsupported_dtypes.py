"""Dtypes cnnlab does not compute in are refused at the op in one line, never deep inside Numba.

float16 tensors can be made, stored and converted (as in PyTorch), but the ops compute in float32
and float64 only: they name the op, the argument and the dtype, and say how to convert.
"""

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab import Tensor, nn

OPS = {
    "conv2d": lambda x: nn.Conv2d(1, 2, 3)(x),
    "linear": lambda x: nn.Linear(16, 2)(x.reshape(1, 16)),
    "batch_norm": lambda x: nn.BatchNorm2d(1)(x),
    "max_pool2d": lambda x: nn.MaxPool2d(2)(x),
    "relu": lambda x: F.relu(x),
    "softmax": lambda x: F.softmax(x, 1),
    "cross_entropy": lambda x: F.cross_entropy(x.reshape(1, 16), Tensor(np.array([0]))),
}


@pytest.mark.parametrize("op", OPS)
def test_float16_is_refused_at_the_op_in_one_line(op):
    x = Tensor(np.zeros((1, 1, 4, 4), np.float16))
    with pytest.raises(TypeError) as e:
        OPS[op](x)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{op}: `input` must be a floating tensor (float32 or float64). "
                              f"Received dtype float16 (cnnlab computes in float32 and float64 "
                              f"only; convert with .float())")
    assert e.traceback[-1].path.name == "validation.py"   # refused up front, not inside a kernel


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "relu"])
def test_int8_input_is_refused_at_the_op(op):
    with pytest.raises(TypeError, match=rf"^{op}: `input` must be a floating tensor \(float32 or "
                                        rf"float64\)\. Received dtype int8$"):
        OPS[op](Tensor(np.zeros((1, 1, 4, 4), np.int8)))


def test_float16_tensors_are_held_and_converted_and_complex_is_refused_at_creation():
    x = Tensor(np.ones(3, np.float16))
    assert x.dtype == cnnlab.float16 and F.relu(x.float()).dtype == np.float32
    with pytest.raises(TypeError, match="tensor: `data` must be numeric. Received an array of "
                                        "dtype complex64"):
        Tensor(np.zeros(3, np.complex64))
