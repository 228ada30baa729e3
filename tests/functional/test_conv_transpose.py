"""conv_transpose2d and nn.ConvTranspose2d against PyTorch: forward and every gradient."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn
from helpers import assert_close, check_against_torch

CASES = [  # (C_in, C_out, kernel, stride, padding, output_padding, groups, dilation, H, W)
    (2, 3, 3, 1, 0, 0, 1, 1, 5, 5),
    (2, 3, 3, 2, 1, 1, 1, 1, 4, 5),
    (4, 6, (3, 2), (2, 3), (1, 0), (1, 2), 2, 1, 3, 4),
    (3, 2, 4, 2, 1, 0, 1, 1, 5, 5),
    (2, 4, 3, 1, 2, 0, 1, 2, 6, 5),
    (4, 4, 3, 3, (2, 1), (2, 0), 4, (1, 2), 4, 3),
    (2, 2, 1, 2, 0, 1, 1, 1, 3, 3),
    (3, 6, 5, 2, 4, 1, 3, 2, 7, 6),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_transpose2d_matches_torch(rng, case, with_bias):
    c_in, c_out, k, s, p, op, g, d, h, w = case
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((2, c_in, h, w))
    weight = rng.standard_normal((c_in, c_out // g, kh, kw))
    arrays = [x, weight] + ([rng.standard_normal(c_out)] if with_bias else [])

    def ours(x, w, b=None):
        return F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, groups=g,
                                  dilation=d)

    def theirs(x, w, b=None):
        return torch.nn.functional.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op,
                                                    groups=g, dilation=d)

    check_against_torch(ours, theirs, arrays)


def test_unbatched_input(rng):
    x, w = rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 3, 3, 3))
    check_against_torch(lambda x, w: F.conv_transpose2d(x, w, stride=2),
                        lambda x, w: torch.nn.functional.conv_transpose2d(x, w, stride=2), [x, w])


def test_layer_matches_torch_with_copied_weights(rng):
    ours = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    theirs.double()
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert ours.bias.shape == tuple(theirs.bias.shape)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    ours.double()
    x = rng.standard_normal((2, 4, 5, 5))
    check_against_torch(lambda t: ours(t), lambda t: theirs(t), [x], dtypes=("float64",))
    xs = cnnlab.tensor(x, requires_grad=True)
    out = ours(xs)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    ref = theirs(torch.tensor(x))
    ref.backward(torch.tensor(g))
    assert_close(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), "float64", "weight gradient")
    assert_close(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), "float64", "bias gradient")
    assert "output_padding=(1, 1)" in repr(ours) and "groups=2" in repr(ours)


def test_layer_init_range_like_torch():
    """PyTorch's fan_in for a transposed weight (C_in, C_out/G, kH, kW) is C_out/G * kH * kW."""
    cnnlab.manual_seed(0)
    layer = nn.ConvTranspose2d(8, 2, 3)
    bound = 1 / np.sqrt(2 * 9)
    largest = np.abs(layer.weight.numpy()).max()
    assert 0.8 * bound < largest <= bound
    assert np.abs(layer.bias.numpy()).max() <= bound


def test_layer_output_size_argument(rng):
    layer = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = cnnlab.tensor(rng.standard_normal((1, 2, 4, 4)).astype(np.float32))
    assert layer(x).shape == (1, 2, 7, 7)
    assert layer(x, output_size=(8, 8)).shape == (1, 2, 8, 8)
    assert layer(x, output_size=(1, 2, 8, 7)).shape == (1, 2, 8, 7)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: `output_size` \(9, 9\) is not "
                                         r"reachable: expected "
                                         r"sizes between \(7, 7\) and \(8, 8\)"):
        layer(x, output_size=(9, 9))


def test_errors():
    x, w = cnnlab.zeros(1, 2, 4, 4), cnnlab.zeros(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: `output_padding` must be smaller than "
                                         r"`stride` or "
                                         r"`dilation`. Received: output_padding=\(1, 1\), "
                                         r"stride=\(1, 1\)"):
        F.conv_transpose2d(x, w, output_padding=1)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input has 2 channels but weight "
                                         r"expects 3"):
        F.conv_transpose2d(x, cnnlab.zeros(3, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: `stride` must be a positive int or a "
                                         r"pair of positive "
                                         r"ints. Received: stride=0"):
        F.conv_transpose2d(x, w, stride=0)
    with pytest.raises(ValueError,
                       match=r"conv_transpose2d: the output would be 0x0 for input size"):
        F.conv_transpose2d(x, w, padding=3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: `bias` must have shape \(3,\)"):
        F.conv_transpose2d(x, w, cnnlab.zeros(2))
    with pytest.raises(ValueError, match=r"conv_transpose2d: `groups` must be a positive int. "
                                         r"Received: groups=0"):
        F.conv_transpose2d(x, w, groups=0)
    with pytest.raises(ValueError, match=r"conv_transpose2d: the weight's 2 input channels are not "
                                         r"divisible by "
                                         r"groups=3"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(TypeError, match=r"conv_transpose2d: `input` and `weight` must have the "
                                        r"same dtype"):
        F.conv_transpose2d(x.double(), w)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: `in_channels` \(3\) must be divisible "
                                         r"by `groups` "
                                         r"\(2\)"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)
