"""pad: every mode against torch.nn.functional.pad (values and gradients), crops, errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
from cnnlab.functional.padding import pad, pad_array, pad_array_backward
from helpers import assert_close, check_against_torch, gradcheck

MODES = ["constant", "reflect", "replicate", "circular"]
PADS = [(1, 1, 1, 1), (0, 2, 1, 0), (3, 1, 0, 2), (2, 2, 3, 3), (0, 0, 0, 0), (4, 0, 0, 4)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pads", PADS)
def test_pad_matches_torch(mode, pads, rng):
    x = rng.standard_normal((2, 3, 5, 6))
    check_against_torch(lambda t: pad(t, pads, mode=mode), lambda t: TF.pad(t, pads, mode=mode), [x])


@pytest.mark.parametrize("mode", MODES)
def test_pad_unbatched_chw(mode, rng):
    x = rng.standard_normal((3, 4, 5))
    check_against_torch(lambda t: pad(t, (2, 1, 3, 0), mode=mode), lambda t: TF.pad(t, (2, 1, 3, 0), mode=mode), [x])


@pytest.mark.parametrize("mode", MODES)
def test_two_tuple_pads_width_only(mode, rng):
    # PyTorch takes a 2-tuple with 4-D input only in constant mode; its 3-D form pads the last axis.
    x = rng.standard_normal((2, 3, 4, 5))

    def theirs(t):
        return TF.pad(t.reshape(6, 4, 5), (2, 3), mode=mode).reshape(2, 3, 4, 10)

    check_against_torch(lambda t: pad(t, (2, 3), mode=mode), theirs, [x])


@pytest.mark.parametrize("pads", [(-1, 2, 0, 1), (1, -2, -1, 1), (-2, -1, -3, 0), (2, -5, 1, 1)])
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_negative_padding_crops_like_torch(mode, pads, rng):
    x = rng.standard_normal((2, 2, 5, 5))
    check_against_torch(lambda t: pad(t, pads, mode=mode), lambda t: TF.pad(t, pads, mode=mode), [x])


@pytest.mark.parametrize("pads", [(-1, 2, 0, 1), (2, -1, -2, 2)])
def test_negative_circular_crops_then_wraps(pads, rng):
    x = rng.standard_normal((1, 2, 5, 5))

    def theirs(t):
        return TF.pad(t.reshape(2, 5, 5), pads, mode="circular").unsqueeze(0)

    check_against_torch(lambda t: pad(t, pads, mode="circular"), theirs, [x])


def test_constant_value(rng):
    x = rng.standard_normal((1, 2, 3, 3))
    check_against_torch(lambda t: pad(t, (1, 2, 0, 1), value=-2.5),
                        lambda t: TF.pad(t, (1, 2, 0, 1), value=-2.5), [x])


def test_reflect_by_hand():
    x = cnnlab.tensor(np.arange(3.0).reshape(1, 1, 1, 3))
    assert pad(x, (2, 1), mode="reflect").numpy().ravel().tolist() == [2, 1, 0, 1, 2, 1]
    assert pad(x, (2, 1), mode="replicate").numpy().ravel().tolist() == [0, 0, 0, 1, 2, 2]
    assert pad(x, (2, 1), mode="circular").numpy().ravel().tolist() == [1, 2, 0, 1, 2, 0]


def test_output_dtype_float32_default():
    x = cnnlab.zeros(1, 1, 2, 2)
    assert pad(x, (1, 1, 1, 1), mode="reflect").dtype == np.float32


@pytest.mark.parametrize("mode", MODES)
def test_pad_gradcheck(mode, rng):
    x = rng.standard_normal((1, 2, 3, 4))
    gradcheck(lambda t: pad(t, (2, 1, 1, 2), mode=mode), [x])


@pytest.mark.parametrize("mode", MODES)
def test_raw_helpers_match_torch(mode, rng):
    x = rng.standard_normal((2, 3, 6, 5))
    pads = ((2, 1), (0, 3))
    out = pad_array(x, pads, mode)
    xt = torch.tensor(x, requires_grad=True)
    ref = TF.pad(xt, (0, 3, 2, 1), mode=mode)
    assert_close(out, ref.detach().numpy())
    g = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(g))
    assert_close(pad_array_backward(g, x.shape, pads, mode), xt.grad.numpy())


@pytest.mark.parametrize("mode", MODES)
def test_backward_keeps_float32(mode):
    g = np.ones((1, 1, 5, 5), dtype=np.float32)
    assert pad_array_backward(g, (1, 1, 3, 3), ((1, 1), (1, 1)), mode).dtype == np.float32


# ----------------------------------------------------------------------------------------- errors

def test_error_bad_pad_length():
    with pytest.raises(ValueError, match=re.escape("pad: `pad` must be a tuple of 2 ints (left, right) or 4 ints "
                                                   "(left, right, top, bottom). Received: pad=(1, 2, 3)")):
        pad(cnnlab.zeros(1, 1, 3, 3), (1, 2, 3))


def test_error_non_int_pad():
    with pytest.raises(ValueError, match=r"pad: `pad` must be a tuple.*Received: pad=\(1\.5, 1\)"):
        pad(cnnlab.zeros(1, 1, 3, 3), (1.5, 1))


def test_error_unknown_mode_lists_valid_ones():
    with pytest.raises(ValueError, match=r"pad: `mode` must be one of 'constant', 'reflect', 'replicate', "
                                         r"'circular'\. Received: mode='mirror'"):
        pad(cnnlab.zeros(1, 1, 3, 3), (1, 1), mode="mirror")


def test_error_value_with_reflect():
    with pytest.raises(ValueError, match=r"pad: `value` is only used with mode='constant'\. Received: "
                                         r"mode='reflect', value=1\.0"):
        pad(cnnlab.zeros(1, 1, 3, 3), (1, 1), mode="reflect", value=1.0)


def test_error_value_not_a_number():
    with pytest.raises(TypeError, match=r"pad: `value` must be a number\. Received: value='0'"):
        pad(cnnlab.zeros(1, 1, 3, 3), (1, 1), value="0")


def test_error_reflect_too_large():
    with pytest.raises(ValueError, match=re.escape("pad: reflect padding must be smaller than the input size on "
                                                   "that axis (at most 4 for width 5). Received: pad=(5, 0, 0, 0) "
                                                   "for input width 5 (input shape (2, 3, 4, 5))")):
        pad(cnnlab.zeros(2, 3, 4, 5), (5, 0, 0, 0), mode="reflect")


def test_error_reflect_too_large_height():
    with pytest.raises(ValueError, match=r"reflect padding must be smaller.*at most 3 for height 4"):
        pad(cnnlab.zeros(2, 3, 4, 5), (0, 0, 1, 4), mode="reflect")


def test_error_circular_wraps_twice():
    with pytest.raises(ValueError, match=r"pad: circular padding must be at most the \(cropped\) input size on that "
                                         r"axis \(5 for width 5\): it may wrap around only once\. "
                                         r"Received: pad=\(6, 0, 0, 0\)"):
        pad(cnnlab.zeros(2, 3, 4, 5), (6, 0, 0, 0), mode="circular")


def test_error_crop_more_than_input():
    with pytest.raises(ValueError, match=r"pad: negative `pad` crops more than the input has: padded width would "
                                         r"be -1\. Received: pad=\(-3, -3\)"):
        pad(cnnlab.zeros(1, 1, 5, 5), (-3, -3))
    with pytest.raises(ValueError, match=r"pad: negative `pad` may crop at most the whole width \(5\)"):
        pad(cnnlab.zeros(1, 1, 5, 5), (3, -6))


def test_error_replicate_empty_axis():
    with pytest.raises(ValueError, match=r"pad: replicate padding needs a non-empty axis"):
        pad(cnnlab.zeros(1, 1, 0, 5), (1, 1, 1, 1), mode="replicate")


def test_error_input_ndim():
    with pytest.raises(ValueError, match=r"pad: `input` must have at least 2 dimensions \(\.\.\., H, W\)\. "
                                         r"Received a 1-D tensor of shape \(5,\)"):
        pad(cnnlab.zeros(5), (1, 1))


def test_error_input_not_tensor():
    with pytest.raises(TypeError, match=r"pad: `input` must be a Tensor\. Received an object of type list"):
        pad([[1.0]], (1, 1))
