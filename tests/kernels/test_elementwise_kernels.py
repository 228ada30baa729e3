"""ReLU and the fused add + ReLU: compiled against reference against PyTorch, both memory layouts."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import backend
from helpers import assert_close

KERNEL_SETS = ("reference", "compiled")


@pytest.fixture(autouse=True)
def _restore_kernels():
    saved = backend.get_kernels()
    yield
    backend.set_kernels(saved)


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


LAYOUTS = {
    "nchw": lambda a: a,
    "channels_last": channels_last,
    "strided": lambda a: np.repeat(a, 2, axis=3)[..., ::2],   # a non-dense view: the reference's path
}


def sample(rng, dtype):
    x = rng.standard_normal((2, 5, 4, 3)).astype(dtype)
    x[0, 0, 0, :2] = [np.nan, 0.0]
    return x


@pytest.mark.parametrize("name", KERNEL_SETS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_matches_torch(name, layout, dtype, rng):
    x, g = sample(rng, dtype), rng.standard_normal((2, 5, 4, 3)).astype(dtype)
    backend.set_kernels(name)
    xs = cnnlab.tensor(LAYOUTS[layout](x), requires_grad=True)
    out = F.relu(xs)
    out.backward(LAYOUTS[layout](g))
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.relu(xt)
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    assert_close(xs.grad.numpy(), xt.grad.numpy(), dtype)
    if layout != "strided":
        assert out._data.strides == xs._data.strides


@pytest.mark.parametrize("name", KERNEL_SETS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_add_relu_matches_torch(name, layout, dtype, rng):
    a, b = sample(rng, dtype), sample(rng, dtype)
    g = rng.standard_normal(a.shape).astype(dtype)
    backend.set_kernels(name)
    sa, sb = (cnnlab.tensor(LAYOUTS[layout](v), requires_grad=True) for v in (a, b))
    out = F.add_relu(sa, sb)
    out.backward(LAYOUTS["nchw" if layout == "channels_last" else "channels_last"](g))  # the other layout
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    ref = torch.relu(ta + tb)
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    assert_close(sa.grad.numpy(), ta.grad.numpy(), dtype)
    assert_close(sb.grad.numpy(), tb.grad.numpy(), dtype)
    assert out._data.strides == sa._data.strides


def test_add_relu_rejects_mismatched_inputs():
    a = cnnlab.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"add_relu: `input` and `other` must have one shape and dtype. "
                                         r"Received shapes \(2, 3\) and \(3,\)"):
        F.add_relu(a, cnnlab.tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="add_relu: `other`"):
        F.add_relu(a, np.zeros((2, 3)).tolist())


@pytest.mark.parametrize("name", KERNEL_SETS)
@pytest.mark.parametrize("layouts", [("nchw", "channels_last"), ("channels_last", "nchw")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_add_relu_of_mixed_layouts(name, layouts, dtype, rng):
    """A residual stream meeting a block of the other layout: the values of PyTorch's relu(a + b);
    the compiled kernel answers channels-last, so the stream stays so after the first block."""
    a, b = sample(rng, dtype), sample(rng, dtype)
    g = rng.standard_normal(a.shape).astype(dtype)
    backend.set_kernels(name)
    sa, sb = (cnnlab.tensor(LAYOUTS[lay](v), requires_grad=True) for lay, v in zip(layouts, (a, b)))
    out = F.add_relu(sa, sb)
    out.backward(g)
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    ref = torch.relu(ta + tb)
    ref.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    assert_close(sa.grad.numpy(), ta.grad.numpy(), dtype)
    assert_close(sb.grad.numpy(), tb.grad.numpy(), dtype)
    if name == "compiled":
        assert out._data.transpose(0, 2, 3, 1).flags.c_contiguous
