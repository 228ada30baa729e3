"""PyTorch habits: max/min(dim), size(), to/cpu, device, t/expand/repeat/masked_fill, from_numpy."""

import numpy as np
import pytest
import torch

import cnnlab
from helpers import assert_close, check_against_torch


@pytest.fixture
def a(rng):
    return rng.standard_normal((3, 5, 4))


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_values_and_indices_like_torch(a, name, dim, keepdim):
    check_against_torch(lambda x: getattr(x, name)(dim, keepdim).values,
                        lambda x: getattr(x, name)(dim, keepdim).values, [a])
    ours = getattr(cnnlab.tensor(a), name)(dim=dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(a), name)(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert ours.indices.dtype == np.int64


def test_max_dim_unpacks_like_the_accuracy_idiom(rng):
    logits = rng.standard_normal((4, 10))
    _, pred = cnnlab.tensor(logits).max(1)
    values, indices = torch.tensor(logits).max(1)
    np.testing.assert_array_equal(pred.numpy(), indices.numpy())
    pair = cnnlab.tensor(logits).max(1)
    assert type(pair).__name__ == "max" and len(pair) == 2 and pair[1] is pair.indices


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_without_dim_is_a_0d_tensor_sharing_ties_like_torch(name):
    a = np.array([[1.0, 3.0, 3.0], [-2.0, 0.5, -2.0]])
    check_against_torch(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), [a])
    assert getattr(cnnlab.tensor(a), name)().shape == ()


def test_amax_keeps_the_several_dims_reduction(a):
    check_against_torch(lambda x: x.amax((0, 2)), lambda x: x.amax((0, 2)), [a])
    check_against_torch(lambda x: x.amin(1, True), lambda x: x.amin(1, True), [a])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 1}, {"dim": -1, "keepdim": True},
                                    {"keepdim": True}])
def test_argmax_argmin_like_torch(a, name, kwargs):
    ours = getattr(cnnlab.tensor(a), name)(**kwargs)
    theirs = getattr(torch.tensor(a), name)(**kwargs)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_max_dim_errors():
    x = cnnlab.zeros(2, 3)
    with pytest.raises(IndexError, match=r"max: Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got 2\)"):
        x.max(2)
    with pytest.raises(TypeError, match=r"min: `dim` must be an int \(for several dims use "
                                        r"amax/amin\)"):
        x.min((0, 1))
    with pytest.raises(IndexError, match=r"max: Expected reduction dim 1 to have non-zero size"):
        cnnlab.zeros(2, 0).max(1)
    with pytest.raises(IndexError, match=r"argmax: cannot reduce an empty tensor"):
        cnnlab.zeros(0).argmax()


def test_max_dim_of_a_0d_tensor():
    v, i = cnnlab.tensor(2.5).max(0)
    tv, ti = torch.tensor(2.5).max(0)
    assert v.shape == () and float(v) == float(tv) and int(i) == int(ti)


def test_size_is_a_method_returning_a_tuple_like_size():
    x = cnnlab.zeros(2, 3, 4)
    t = torch.zeros(2, 3, 4)
    assert x.size() == tuple(t.size()) and isinstance(x.size(), tuple)
    assert x.size(0) == t.size(0) and x.size(-1) == t.size(-1)
    assert x.size()[1:] == (3, 4) and isinstance(x.size()[1:], cnnlab.Size)
    assert x.size().numel() == t.size().numel() == x.numel() == 24
    assert repr(x.size()) == "cnnlab.Size([2, 3, 4])"
    assert x.shape == (2, 3, 4)
    with pytest.raises(IndexError, match=r"size: Dimension out of range \(expected to be in range "
                                         r"of \[-3, 2\], but got 3\)"):
        x.size(3)
    assert cnnlab.tensor(1.0).size() == tuple(torch.tensor(1.0).size()) == ()
    with pytest.raises(IndexError, match=r"size: a 0-d tensor has no dimension to measure. "
                                         r"Received: dim=0"):
        cnnlab.tensor(1.0).size(0)


def test_to_dtype_forms_and_returns_self_when_nothing_changes(rng):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    x = cnnlab.tensor(a)
    assert x.to("float32") is x and x.to(cnnlab.float32) is x and x.float() is x and x.cpu() is x
    assert x.to("cpu") is x and x.to(cnnlab.device("cpu")) is x
    assert x.to(np.float32, copy=True) is not x
    for y in (x.to("cpu", "float64"), x.to(device="cpu", dtype=cnnlab.float64), x.double(),
              x.to(cnnlab.tensor(np.zeros(1))), x.to("float64"), x.to(dtype=np.float64)):
        assert y.dtype == np.float64
        assert_close(y.numpy(), torch.tensor(a).to("cpu", torch.float64).numpy())
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    np.testing.assert_array_equal(x.long().numpy(), torch.tensor(a).long().numpy())


def test_to_double_and_float_are_differentiable_like_torch(rng):
    a = rng.standard_normal((3, 4))
    def round_trip(x):
        return (x.float() * x.float()).double()

    check_against_torch(round_trip, round_trip, [a], dtypes=("float64",))
    check_against_torch(lambda x: (x.to("cpu", "float64") * 2).float(),
                        lambda x: (x.to("cpu", torch.float64) * 2).float(), [a],
                        dtypes=("float32",))
    x = cnnlab.tensor(a, requires_grad=True)
    assert not x.long().requires_grad and x.double().requires_grad
    c = x.to(np.float64, copy=True)
    assert c.requires_grad and not np.shares_memory(c.data, x.data)


def test_device_attribute_and_device_errors():
    x = cnnlab.zeros(2)
    assert x.device == cnnlab.device("cpu") and x.device == "cpu" and str(x.device) == "cpu"
    assert repr(cnnlab.device("cuda:1")) == "device(type='cuda', index=1)"
    assert x.device.type == torch.zeros(2).device.type
    with pytest.raises(RuntimeError,
                       match=r"to: device 'cuda' is not available: .*Use device='cpu'"):
        if cnnlab.backend.cuda_available():
            pytest.skip("a GPU is present")
        x.to("cuda")
    with pytest.raises(ValueError, match=r"to: `device` must be 'cpu', 'cuda' or 'cuda:N'. "
                                         r"Received: device='gpu'"):
        x.to(device="gpu")
    with pytest.raises(TypeError, match=r"to: each argument must be a device \('cpu', 'cuda', "
                                        r"'cuda:N'\), a dtype "
                                        r"or a tensor. Received: 'gpu'"):
        x.to("gpu")
    with pytest.raises(TypeError, match=r"to: `dtype` must be a numeric or bool dtype .* Received: "
                                        r"dtype='U8'"):
        x.to(dtype="U8")
    with pytest.raises(ValueError, match=r"device: expected 'cpu', 'cuda' or 'cuda:N'. Received: "
                                         r"device='tpu'"):
        cnnlab.device("tpu")


def test_t_like_torch(rng):
    check_against_torch(lambda x: x.t(), lambda x: x.t(), [rng.standard_normal((3, 5))])
    check_against_torch(lambda x: x.t() * 1, lambda x: x.t() * 1, [rng.standard_normal(4)])
    with pytest.raises(ValueError, match=r"t: expects a tensor with <= 2 dimensions. Received a "
                                         r"3-D tensor"):
        cnnlab.zeros(2, 3, 4).t()


@pytest.mark.parametrize("shape,sizes", [((3, 1), (3, 4)), ((1, 4), (2, 5, -1)),
                                         ((2, 1, 3), (-1, 6, 3)),
                                          ((3,), (2, 3))])
def test_expand_like_torch(rng, shape, sizes):
    a = rng.standard_normal(shape)
    check_against_torch(lambda x: x.expand(*sizes) * 1, lambda x: x.expand(*sizes) * 1, [a])
    check_against_torch(lambda x: x.expand(sizes) * 1, lambda x: x.expand(sizes) * 1, [a])


def test_expand_errors():
    with pytest.raises(ValueError, match=r"expand: size 2 at dimension 0 does not fit the tensor's "
                                         r"size 3 there"):
        cnnlab.zeros(3, 4).expand(2, 4)
    with pytest.raises(ValueError, match=r"expand: the number of sizes \(1\) must be at least the "
                                         r"tensor's "
                                         r"number of dimensions \(2\)"):
        cnnlab.zeros(3, 4).expand(4)
    with pytest.raises(ValueError, match=r"expand: size -1 is not allowed for the new leading "
                                         r"dimension 0 \(-1 keeps an existing dimension only\)"):
        cnnlab.zeros(3).expand(-1, 3)
    with pytest.raises(TypeError, match=r"expand: `sizes` must be ints. Received: sizes=\(2.5,\)"):
        cnnlab.zeros(1).expand(2.5)


@pytest.mark.parametrize("shape,sizes", [((2, 3), (2, 3)), ((2, 3), (1, 2, 1)), ((3,), (2, 2)),
                                         ((2, 3), (1, 1))])
def test_repeat_like_torch(rng, shape, sizes):
    a = rng.standard_normal(shape)
    check_against_torch(lambda x: x.repeat(*sizes), lambda x: x.repeat(*sizes), [a])


def test_repeat_error():
    with pytest.raises(ValueError, match=r"repeat: `sizes` must hold a non-negative count for each "
                                         r"of the "
                                         r"tensor's 2 dimensions \(or more\). Received: "
                                         r"sizes=\(2,\)"):
        cnnlab.zeros(2, 3).repeat(2)


@pytest.mark.parametrize("shape,mask_shape", [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 4), (4,)),
                                              ((4,), (3, 4)), ((3, 1), (1, 4)), ((), (2,))])
def test_masked_fill_like_torch(rng, shape, mask_shape, device):
    """The mask may broadcast to the input, and the input to the mask (the result then takes
    their common shape, as PyTorch's out-of-place masked_fill)."""
    a = rng.standard_normal(shape)
    mask = rng.random(mask_shape) > 0.5
    ours_mask = cnnlab.tensor(mask).to(device)  # on the inputs' device
    check_against_torch(lambda x: x.masked_fill(ours_mask, -1.5),
                        lambda x: x.masked_fill(torch.tensor(mask), -1.5), [a])
    # a 0-d tensor value gets the gradient of the filled positions
    check_against_torch(lambda x, v: x.masked_fill(ours_mask, v),
                        lambda x, v: x.masked_fill(torch.tensor(mask), v), [a, np.array(0.7)])


def test_masked_fill_errors():
    x = cnnlab.zeros(3, 4)
    with pytest.raises(TypeError, match=r"masked_fill: `mask` must be a boolean tensor. Received a "
                                        r"mask of dtype "
                                        r"float32"):
        x.masked_fill(cnnlab.zeros(3, 4), 1.0)
    with pytest.raises(ValueError, match=r"masked_fill: `mask` of shape \(2, 4\) does not "
                                         r"broadcast with the "
                                         r"input's shape \(3, 4\)"):
        x.masked_fill(cnnlab.zeros(2, 4) > 0, 1.0)
    with pytest.raises(ValueError, match=r"masked_fill: a tensor `value` must be 0-dimensional"):
        x.masked_fill(x > 0, cnnlab.zeros(2))
    with pytest.raises(TypeError, match=r"masked_fill: `value` must be a number or a 0-d tensor. "
                                        r"Received: "
                                        r"value='a'"):
        x.masked_fill(x > 0, "a")


def test_cat_stack_at_top_level_like_torch(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_against_torch(lambda x, y: cnnlab.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1),
                        [a, b])
    check_against_torch(lambda x, y: cnnlab.stack((x, y), dim=-1),
                        lambda x, y: torch.stack((x, y), dim=-1), [a, b])


def test_from_numpy_shares_memory():
    a = np.arange(6.0).reshape(2, 3)
    x = cnnlab.from_numpy(a)
    a[0, 0] = 42.0
    assert x.dtype == np.float64 and float(x[0, 0]) == 42.0
    x.data[1, 2] = -1.0
    assert a[1, 2] == -1.0
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy.ndarray. Received an object "
                                        r"of type list"):
        cnnlab.from_numpy([1.0])
    with pytest.raises(TypeError, match=r"from_numpy: the array's dtype must be numeric or bool. "
                                        r"Received dtype "
                                        r"object"):
        cnnlab.from_numpy(np.array([None]))


def test_inference_mode_records_no_graph():
    w = cnnlab.ones(2, requires_grad=True)
    with cnnlab.inference_mode():
        assert not cnnlab.is_grad_enabled()
        assert not (w * 2).requires_grad
    assert cnnlab.is_grad_enabled()
    with cnnlab.inference_mode(False):
        assert (w * 2).requires_grad

    @cnnlab.inference_mode
    def bare():
        return w * 2

    @cnnlab.inference_mode()
    def called():
        return w * 2

    assert not bare().requires_grad and not called().requires_grad and cnnlab.is_grad_enabled()


def test_module_to_takes_device_objects_and_names_a_missing_gpu():
    net = cnnlab.nn.Linear(2, 3)
    assert net.to(cnnlab.device("cpu"), cnnlab.float64) is net and net.weight.dtype == np.float64
    if cnnlab.backend.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"Module.to: device 'cuda:0' is not available"):
        net.to("cuda:0")


def test_cuda_errors_name_what_is_missing(monkeypatch):
    from cnnlab import backend

    class FakeCuPy:  # CuPy installed, but its runtime finds no GPU
        class ndarray:
            pass

        @staticmethod
        def get_array_module(*arrays):
            return np

        class cuda:
            class runtime:
                @staticmethod
                def getDeviceCount():
                    raise RuntimeError("no CUDA driver")

    monkeypatch.setattr(backend, "_cupy", FakeCuPy)
    assert not backend.cuda_available()
    with pytest.raises(RuntimeError, match=r"to: device 'cuda:1' is not available: CuPy sees no "
                                           r"GPU. Use device='cpu'"):
        cnnlab.zeros(2).to("cuda:1")


def test_exact_gelu_refuses_a_gpu_array(monkeypatch):
    import importlib

    from cnnlab import backend

    gelu_module = importlib.import_module("cnnlab.functional.gelu")  # the package exports gelu()

    monkeypatch.setattr(backend, "device_of", lambda a: backend.device("cuda", 0))
    with pytest.raises(RuntimeError, match=r"gelu: approximate='none' \(the exact erf form\) runs "
                                           r"on the CPU only; received a tensor on cuda:0. Use "
                                           r"approximate='tanh' there"):
        gelu_module._erf(np.zeros(2))
