"""Activations against PyTorch (values and gradients), finite differences, stability and errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional.activation as A
from helpers import assert_close, check_against_torch, gradcheck

R = np.random.default_rng(7)
SHAPES = [(7,), (3, 4), (2, 3, 4, 5)]

# name -> (ours, theirs, input scale); scale 4 pushes values past the relu6 / hardtanh corners
POINTWISE = {
    "relu": (A.relu, TF.relu, 1.0),
    "leaky_relu": (A.leaky_relu, TF.leaky_relu, 1.0),
    "leaky_relu_0.2": (lambda x: A.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), 1.0),
    "leaky_relu_neg": (lambda x: A.leaky_relu(x, negative_slope=-0.5),
                       lambda x: TF.leaky_relu(x, negative_slope=-0.5), 1.0),
    "elu": (A.elu, TF.elu, 2.0),
    "elu_0.5": (lambda x: A.elu(x, 0.5), lambda x: TF.elu(x, 0.5), 2.0),
    "elu_2": (lambda x: A.elu(x, alpha=2.0), lambda x: TF.elu(x, alpha=2.0), 2.0),
    "sigmoid": (A.sigmoid, torch.sigmoid, 3.0),
    "tanh": (A.tanh, torch.tanh, 2.0),
    "relu6": (A.relu6, TF.relu6, 4.0),
    "hardtanh": (A.hardtanh, TF.hardtanh, 2.0),
    "hardtanh_custom": (lambda x: A.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0), 2.0),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_against_torch(name, shape):
    ours, theirs, scale = POINTWISE[name]
    check_against_torch(ours, theirs, [R.standard_normal(shape) * scale])


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_gradcheck(name):
    ours, _, scale = POINTWISE[name]
    x = R.standard_normal((3, 4)) * scale
    x[np.abs(x) < 0.05] += 0.1            # keep finite differences away from the kinks at 0
    for corner in (-1.0, 1.0, 6.0, -0.5, 2.0):
        x[np.abs(x - corner) < 0.05] += 0.1
    gradcheck(ours, [x])


def test_tensor_methods_use_these_ops():
    x = R.standard_normal((3, 5))
    check_against_torch(lambda t: t.relu(), lambda t: t.relu(), [x])
    check_against_torch(lambda t: t.sigmoid(), lambda t: t.sigmoid(), [x])
    check_against_torch(lambda t: t.tanh(), lambda t: t.tanh(), [x])
    check_against_torch(lambda t: t.softmax(0), lambda t: t.softmax(0), [x])
    check_against_torch(lambda t: t.log_softmax(-1), lambda t: t.log_softmax(-1), [x])


def test_kinks_follow_pytorch_conventions():
    # relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha, hardtanh' = 0 on the corners
    x = np.array([-1.0, 0.0, 1.0, 6.0, -6.0])
    for ours, theirs in [(A.relu, TF.relu), (lambda t: A.leaky_relu(t, 0.3), lambda t: TF.leaky_relu(t, 0.3)),
                         (lambda t: A.elu(t, 1.5), lambda t: TF.elu(t, 1.5)), (A.relu6, TF.relu6),
                         (lambda t: A.hardtanh(t, -1.0, 1.0), lambda t: TF.hardtanh(t, -1.0, 1.0))]:
        check_against_torch(ours, theirs, [x])


def test_relu_keeps_dtype_and_input():
    x = cnnlab.tensor(R.standard_normal((4, 4)).astype(np.float32))
    before = x.numpy().copy()
    y = A.relu(x, inplace=True)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), before)
    np.testing.assert_array_equal(y.numpy(), np.maximum(before, 0))


def test_sigmoid_large_inputs_no_overflow():
    x = np.array([-1e4, -800.0, -100.0, -1.0, 0.0, 1.0, 100.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no overflow warnings from exp
        check_against_torch(A.sigmoid, torch.sigmoid, [x])
        check_against_torch(A.tanh, torch.tanh, [x])
        check_against_torch(A.elu, TF.elu, [x])
    for dtype in ("float32", "float64"):
        out = A.sigmoid(cnnlab.tensor(x.astype(dtype))).numpy()
        assert out[0] == 0.0 and out[-1] == 1.0 and out[4] == 0.5


SOFTMAX_SHAPES = [(5,), (3, 4), (2, 3, 4), (2, 3, 2, 3)]


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_every_dim(shape, log):
    ours, theirs = (A.log_softmax, TF.log_softmax) if log else (A.softmax, TF.softmax)
    x = R.standard_normal(shape) * 3
    for dim in list(range(len(shape))) + [-1]:
        check_against_torch(lambda t: ours(t, dim), lambda t: theirs(t, dim), [x])
        check_against_torch(lambda t: ours(t, dim=dim), lambda t: theirs(t, dim=dim), [x], dtypes=("float32",))


@pytest.mark.parametrize("log", [False, True])
def test_softmax_gradcheck(log):
    fn = A.log_softmax if log else A.softmax
    gradcheck(lambda t: fn(t, 1), [R.standard_normal((2, 4, 3))])
    gradcheck(lambda t: fn(t, 0), [R.standard_normal((5,))])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_stable_for_huge_logits(log, dtype):
    x = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4 + 2, -1e4 + 1, -1e4], [1e4, 1e4, 1e4, 1e4]])
    ours, theirs = (A.log_softmax, TF.log_softmax) if log else (A.softmax, TF.softmax)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ours(cnnlab.tensor(x.astype(dtype)), 1)
    assert np.isfinite(out.numpy()).all()
    check_against_torch(lambda t: ours(t, 1), lambda t: theirs(t, 1), [x], dtypes=(dtype,))


def test_softmax_rows_sum_to_one():
    x = cnnlab.tensor(R.standard_normal((4, 6)) * 10)
    np.testing.assert_allclose(A.softmax(x, 1).numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_softmax_dtype_argument():
    x = R.standard_normal((3, 4)).astype(np.float32)
    for ours, theirs in [(A.softmax, TF.softmax), (A.log_softmax, TF.log_softmax)]:
        a = cnnlab.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        out, ref = ours(a, 1, dtype="float64"), theirs(t, 1, dtype=torch.float64)
        assert out.dtype == np.float64
        assert_close(out.numpy(), ref.detach().numpy(), "float64")
        g = R.standard_normal((3, 4))
        out.backward(g)
        ref.backward(torch.tensor(g))
        assert a.grad.dtype == np.float32
        assert_close(a.grad.numpy(), t.grad.numpy(), "float32")


def test_softmax_zero_dim_and_implicit_dim():
    assert A.softmax(cnnlab.tensor(2.0), 0).item() == 1.0
    assert A.log_softmax(cnnlab.tensor(2.0), -1).item() == 0.0
    x = R.standard_normal((2, 3))
    with pytest.warns(UserWarning, match="implicit dimension"):
        out = A.softmax(cnnlab.tensor(x))
    with pytest.warns(UserWarning):
        ref = TF.softmax(torch.tensor(x))
    assert_close(out.numpy(), ref.numpy())


def test_errors():
    with pytest.raises(TypeError, match=r"relu: `input` must be a Tensor\. Received an object of type list"):
        A.relu([1.0, 2.0])
    with pytest.raises(TypeError, match=r"sigmoid: `input` must be a floating tensor .* Received dtype int64"):
        A.sigmoid(cnnlab.tensor([1, 2]))
    x = cnnlab.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"softmax: Dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 2\)"):
        A.softmax(x, 2)
    with pytest.raises(TypeError, match=r"log_softmax: `dim` must be an int. Received: dim=1\.0"):
        A.log_softmax(x, 1.0)
    with pytest.raises(TypeError, match=r"softmax: `dtype` must be a floating dtype\. Received: dtype=int32"):
        A.softmax(x, 1, dtype="int32")
    with pytest.raises(TypeError, match=r"leaky_relu: `negative_slope` must be a finite real number\. "
                                        r"Received: negative_slope='a'"):
        A.leaky_relu(x, "a")
    with pytest.raises(ValueError, match=r"elu: `alpha` must be a finite real number\. Received: alpha=nan"):
        A.elu(x, float("nan"))
    with pytest.raises(ValueError, match=r"hardtanh: `min_val` must not exceed `max_val`\. "
                                         r"Received: min_val=1\.0, max_val=-1\.0"):
        A.hardtanh(x, 1.0, -1.0)


def test_numpy_array_input_accepted():
    out = A.relu(np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(out.numpy(), [0.0, 2.0])
