"""F.gelu / nn.GELU and F.one_hot against PyTorch."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn
from helpers import check_against_torch


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(rng, approximate):
    x = rng.standard_normal((3, 4, 5)) * 3
    check_against_torch(lambda t: F.gelu(t, approximate=approximate),
                        lambda t: torch.nn.functional.gelu(t, approximate=approximate), [x])
    check_against_torch(lambda t: nn.GELU(approximate)(t), lambda t: torch.nn.GELU(approximate)(t),
                        [x])


def test_gelu_errors():
    with pytest.raises(ValueError, match=r"gelu: `approximate` must be 'none' or 'tanh'. Received: "
                                         r"approximate='erf'"):
        F.gelu(cnnlab.zeros(2), approximate="erf")
    with pytest.raises(ValueError, match=r"GELU: `approximate` must be 'none' or 'tanh'. Received: "
                                         r"approximate=True"):
        nn.GELU(True)
    with pytest.raises(TypeError, match=r"gelu: `input` must be a floating tensor"):
        F.gelu(cnnlab.tensor([1, 2]))
    assert repr(nn.GELU("tanh")) == repr(torch.nn.GELU("tanh")) == "GELU(approximate='tanh')"


@pytest.mark.parametrize("shape,num_classes", [((5,), 7), ((2, 3), -1), ((4,), 4), ((), 3)])
def test_one_hot_matches_torch(rng, shape, num_classes):
    labels = rng.integers(0, 3, size=shape)
    ours = F.one_hot(cnnlab.tensor(labels), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: class indices must be smaller than "
                                         r"num_classes=4. Received a "
                                         r"maximum of 5"):
        F.one_hot(cnnlab.tensor([0, 5]), 4)
    with pytest.raises(ValueError, match=r"one_hot: class indices must be non-negative. Received a "
                                         r"minimum of -1"):
        F.one_hot(cnnlab.tensor([-1, 2]))
    with pytest.raises(TypeError, match=r"one_hot: `tensor` must hold int64 class indices. "
                                        r"Received dtype float32"):
        F.one_hot(cnnlab.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"one_hot: `tensor` must hold int64 class indices. "
                                        r"Received dtype int32"):   # PyTorch refuses it too
        F.one_hot(cnnlab.tensor(np.array([0, 1], np.int32)))
    with pytest.raises(TypeError, match=r"one_hot: `tensor` must be a Tensor of int64 class "
                                        r"indices. Received an "
                                        r"object of type list"):
        F.one_hot([0, 1])
    with pytest.raises(ValueError, match=r"one_hot: `num_classes` must be an int >= -1. "
                                         r"Received: num_classes=-2"):
        F.one_hot(cnnlab.tensor([0]), -2)
    with pytest.raises(ValueError, match=r"one_hot: cannot infer num_classes from an empty tensor"):
        F.one_hot(cnnlab.tensor(np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match=r"one_hot: cannot infer num_classes from an empty tensor; "
                                         r"pass a positive num_classes. Received: num_classes=0"):
        F.one_hot(cnnlab.tensor(np.zeros((2, 0), np.int64)), 0)
    assert F.one_hot(cnnlab.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)
