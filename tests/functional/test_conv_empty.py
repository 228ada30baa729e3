"""conv2d at PyTorch's edges: an empty batch gives an empty output; a zero-size kernel, an error."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F


@pytest.mark.parametrize("padding,stride", [(0, 1), (1, 2)])
def test_empty_batch_gives_the_empty_output_and_gradients_of_pytorch(padding, stride):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    ours = [cnnlab.tensor(a, requires_grad=True) for a in (np.zeros((0, 3, 6, 5)), w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (np.zeros((0, 3, 6, 5)), w, b)]
    y = F.conv2d(*ours, stride=stride, padding=padding)
    expected = torch.nn.functional.conv2d(*theirs, stride=stride, padding=padding)
    assert y.shape == tuple(expected.shape)
    y.sum().backward()
    expected.sum().backward()
    for mine, reference in zip(ours, theirs):
        assert mine.grad.shape == tuple(reference.grad.shape)
        np.testing.assert_array_equal(mine.grad.numpy(), reference.grad.numpy())


@pytest.mark.parametrize("shape", [(4, 3, 0, 3), (4, 3, 3, 0), (0, 3, 3, 3)])
def test_zero_size_weight_is_an_error_as_in_pytorch(shape):
    x = np.ones((2, 3, 5, 5))
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv2d(torch.tensor(x), torch.zeros(shape, dtype=torch.float64))
    message = (r"conv2d: `weight` must have at least one output channel, one input channel and a "
               rf"1x1 kernel. Received weight shape \({shape[0]}, ")
    with pytest.raises(ValueError, match=message):
        F.conv2d(cnnlab.tensor(x), cnnlab.tensor(np.zeros(shape)))
