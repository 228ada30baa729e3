"""linear, dropout, dropout2d and identity: PyTorch for linear, exact mask properties for dropout, and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional.basic as B
from helpers import check_against_torch, gradcheck

R = np.random.default_rng(3)


@pytest.mark.parametrize("in_shape", [(5, 4), (4,), (2, 3, 4), (2, 1, 3, 4), (0, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_against_torch(in_shape, bias):
    x, w = R.standard_normal(in_shape), R.standard_normal((6, 4))
    if bias:
        check_against_torch(B.linear, TF.linear, [x, w, R.standard_normal(6)])
    else:
        check_against_torch(B.linear, TF.linear, [x, w])


def test_linear_partial_gradients():
    x, w, b = R.standard_normal((3, 4)), R.standard_normal((2, 4)), R.standard_normal(2)
    check_against_torch(B.linear, TF.linear, [x, w, b], grad=[False, True, True])
    check_against_torch(B.linear, TF.linear, [x, w, b], grad=[True, False, False])


def test_linear_gradcheck():
    gradcheck(B.linear, [R.standard_normal((2, 3, 4)), R.standard_normal((5, 4)), R.standard_normal(5)])
    gradcheck(B.linear, [R.standard_normal((4,)), R.standard_normal((3, 4))])


def test_linear_errors():
    x = cnnlab.tensor(np.zeros((8, 784), dtype=np.float32))
    w = cnnlab.tensor(np.zeros((10, 256), dtype=np.float32))
    with pytest.raises(ValueError, match=r"linear: input has 784 features but weight expects 256 "
                                         r"\(input shape \(8, 784\), weight shape \(10, 256\)\)"):
        B.linear(x, w)
    with pytest.raises(ValueError, match=r"linear: `weight` must be 2-D \(out_features, in_features\)\. "
                                         r"Received a 1-D tensor of shape \(784,\)"):
        B.linear(x, cnnlab.tensor(np.zeros(784, dtype=np.float32)))
    w = cnnlab.tensor(np.zeros((10, 784), dtype=np.float32))
    with pytest.raises(ValueError, match=r"linear: `bias` must have shape \(10,\) to match weight shape "
                                         r"\(10, 784\)\. Received bias shape \(5,\)"):
        B.linear(x, w, cnnlab.tensor(np.zeros(5, dtype=np.float32)))
    with pytest.raises(TypeError, match=r"linear: `input` and `weight` must have the same dtype\. "
                                        r"Received input dtype float64, weight dtype float32"):
        B.linear(cnnlab.tensor(np.zeros((2, 784))), w)
    with pytest.raises(TypeError, match=r"linear: `bias` must have the weight's dtype float32\. "
                                        r"Received dtype float64"):
        B.linear(x, w, cnnlab.tensor(np.zeros(10)))
    with pytest.raises(TypeError, match=r"linear: `input` must be a floating tensor .* Received dtype int64"):
        B.linear(cnnlab.tensor(np.zeros((2, 784), dtype=np.int64)), w)
    with pytest.raises(ValueError, match=r"linear: `input` must have at least 1 dimension"):
        B.linear(cnnlab.tensor(np.float32(1.0)), w)


# ---------------------------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_fraction_scale_and_gradient(p, dtype):
    x = cnnlab.tensor(R.uniform(0.5, 1.5, (200, 500)).astype(dtype), requires_grad=True)
    out = B.dropout(x, p, generator=np.random.default_rng(11))
    assert out.dtype == np.dtype(dtype)
    y = out.numpy()
    kept = y != 0
    assert abs((~kept).mean() - p) < 0.01                      # 100 000 draws: std of the fraction ~0.0016
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(y[kept], x.numpy()[kept] / (1 - p), rtol=tol)
    g = R.standard_normal(y.shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p), rtol=tol, atol=tol)


def test_dropout_identity_cases():
    data = R.standard_normal((4, 5))
    for kwargs in [dict(p=0.0), dict(p=0.5, training=False), dict(p=1.0, training=False)]:
        x = cnnlab.tensor(data, requires_grad=True)
        out = B.dropout(x, **kwargs)
        np.testing.assert_array_equal(out.numpy(), data)
        g = R.standard_normal(data.shape)
        out.backward(g)
        np.testing.assert_array_equal(x.grad.numpy(), g)
    x = cnnlab.tensor(data)
    assert np.shares_memory(B.dropout(x, 0.3, training=False).data, x.data)


def test_dropout_p_one_gives_zeros():
    x = cnnlab.tensor(R.standard_normal((3, 4)), requires_grad=True)
    out = B.dropout(x, 1.0)
    np.testing.assert_array_equal(out.numpy(), 0.0)
    out.backward(np.ones((3, 4)))
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    ref = TF.dropout(torch.ones(3, 4), 1.0)                   # PyTorch agrees: all zeros
    assert (ref == 0).all()


def test_dropout_default_generator_is_seeded():
    x = cnnlab.ones(50, 50)
    cnnlab.manual_seed(5)
    a = B.dropout(x, 0.5).numpy()
    cnnlab.manual_seed(5)
    b = B.dropout(x, 0.5).numpy()
    c = B.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


@pytest.mark.parametrize("shape", [(8, 16, 5, 5), (8, 16, 7)])
def test_dropout2d_zeroes_whole_channels(shape):
    p = 0.4
    x = cnnlab.tensor(R.uniform(0.5, 1.5, shape), requires_grad=True)
    out = B.dropout2d(x, p, generator=np.random.default_rng(2))
    y = out.numpy().reshape(shape[0], shape[1], -1)
    xs = x.numpy().reshape(y.shape)
    dropped = (y == 0).all(axis=2)
    kept = np.isclose(y, xs / (1 - p), rtol=1e-14).all(axis=2)
    assert (dropped ^ kept).all()                              # every channel is wholly dropped or wholly kept
    assert 0.2 < dropped.mean() < 0.6
    g = R.standard_normal(shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g * (out.numpy() != 0) / (1 - p), rtol=1e-14)
    np.testing.assert_array_equal(B.dropout2d(x, p, training=False).numpy(), x.numpy())


def test_dropout_errors():
    x = cnnlab.tensor(np.zeros((2, 3, 4, 4)))
    for p in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match=r"dropout: `p` must be a probability in \[0, 1\]\. Received: p="):
            B.dropout(x, p)
    with pytest.raises(ValueError, match=r"dropout2d: `p` must be a probability in \[0, 1\]\. Received: p=2"):
        B.dropout2d(x, 2)
    with pytest.raises(TypeError, match=r"dropout: `training` must be a bool\. Received: training='yes'"):
        B.dropout(x, 0.5, training="yes")
    with pytest.raises(ValueError, match=r"dropout2d: `input` must be 3-D or 4-D \(N, C, H, W\)\. "
                                         r"Received a 2-D tensor of shape \(3, 4\)"):
        B.dropout2d(cnnlab.tensor(np.zeros((3, 4))), 0.5)
    with pytest.raises(TypeError, match=r"dropout: `input` must be a floating tensor .* Received dtype int64"):
        B.dropout(cnnlab.tensor([1, 2]), 0.5)


def test_identity():
    x = cnnlab.tensor(R.standard_normal((2, 3)), requires_grad=True)
    y = B.identity(x)
    assert np.shares_memory(y.data, x.data)
    g = R.standard_normal((2, 3))
    y.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g)
