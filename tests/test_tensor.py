import numpy as np
import pytest

import cnnlab
from cnnlab import Tensor


def test_default_dtype_is_float32_and_float64_on_request():
    assert cnnlab.tensor([1.0, 2.0]).dtype == np.float32
    assert cnnlab.tensor([1.0], dtype="float64").dtype == np.float64
    assert cnnlab.tensor(np.zeros(3)).dtype == np.float64  # NumPy arrays keep their dtype, as PyTorch
    assert cnnlab.tensor([1, 2]).dtype == np.int64
    assert cnnlab.zeros(2, 3).dtype == np.float32


def test_properties_and_conversions():
    x = cnnlab.tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6
    assert x.T.shape == (3, 2)
    assert x.view(x.shape[0], -1).shape == (2, 3)
    assert x.view(-1).shape == (6,)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    assert cnnlab.tensor([3.5]).item() == 3.5
    assert x.detach().requires_grad is False


def test_only_floating_tensors_require_grad():
    with pytest.raises(TypeError, match="only floating tensors can require gradients"):
        cnnlab.tensor([1, 2], requires_grad=True)


def test_non_numeric_data_is_rejected():
    with pytest.raises(TypeError, match="must be numeric"):
        cnnlab.tensor(["a", "b"])


def test_scalar_ops_keep_float32():
    x = cnnlab.tensor([1.0, 2.0])
    for y in (x * 2, 2 * x, x + 1.5, 1 - x, x / 3, 3 / x, x ** 2):
        assert y.dtype == np.float32


def test_repr_shows_grad_fn():
    x = cnnlab.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=MulBackward" in repr(x * 2)


def test_comparisons_give_boolean_tensors():
    x = cnnlab.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])


def test_manual_seed_repeats_random_tensors():
    cnnlab.manual_seed(3)
    a = cnnlab.randn(4, 4).numpy()
    cnnlab.manual_seed(3)
    b = cnnlab.randn(4, 4).numpy()
    np.testing.assert_array_equal(a, b)
