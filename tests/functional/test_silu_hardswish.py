"""F.silu / nn.SiLU and F.hardswish / nn.Hardswish against PyTorch, values and gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F
from cnnlab import nn
from helpers import assert_close, check_against_torch, gradcheck

R = np.random.default_rng(15)
SHAPES = [(7,), (3, 4), (2, 3, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "ours, theirs", [(F.silu, TF.silu), (F.hardswish, TF.hardswish)], ids=["silu", "hardswish"]
)
def test_against_torch(ours, theirs, shape):
    # scale 4 reaches past hardswish's corners at -3 and 3 and silu's saturated tails
    check_against_torch(ours, theirs, [R.standard_normal(shape) * 4])


@pytest.mark.parametrize(
    "layer, theirs", [(nn.SiLU, torch.nn.SiLU), (nn.Hardswish, torch.nn.Hardswish)]
)
def test_modules_against_torch(layer, theirs):
    check_against_torch(
        lambda x: layer()(x), lambda x: theirs()(x), [R.standard_normal((2, 3, 5)) * 4]
    )


def test_hardswish_corners_follow_pytorch():
    x = np.array([-4.0, -3.0, -1.0, 0.0, 3.0, 4.0])
    check_against_torch(F.hardswish, TF.hardswish, [x])


def test_silu_large_inputs_stay_finite():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    check_against_torch(F.silu, TF.silu, [x])


@pytest.mark.parametrize("fn", [F.silu, F.hardswish])
def test_gradcheck(fn):
    x = R.standard_normal((3, 4)) * 4
    for corner in (-3.0, 3.0):
        x[np.abs(x - corner) < 0.05] += 0.1  # finite differences stay off hardswish's kinks
    gradcheck(fn, [x])


def test_dtype_kept_and_repr():
    x = cnnlab.tensor(np.ones((2, 2), np.float32))
    assert F.silu(x).dtype == np.float32 and F.hardswish(x).dtype == np.float32
    assert repr(nn.SiLU(inplace=True)) == "SiLU(inplace=True)"
    assert repr(nn.Hardswish()) == "Hardswish()"


@pytest.mark.parametrize("fn, name", [(F.silu, "silu"), (F.hardswish, "hardswish")])
def test_errors_name_the_function(fn, name):
    with pytest.raises(TypeError, match=name):
        fn("not a tensor")
    with pytest.raises(TypeError, match=name):
        fn(cnnlab.tensor(np.arange(3)))


def test_values_by_hand():
    x = np.array([-3.0, 0.0, 1.5, 3.0])
    assert_close(F.hardswish(cnnlab.tensor(x)).numpy(), [0.0, 0.0, 1.5 * 4.5 / 6, 3.0])
    assert_close(F.silu(cnnlab.tensor(x)).numpy(), x / (1 + np.exp(-x)))
