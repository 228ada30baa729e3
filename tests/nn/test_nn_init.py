"""cnnlab.nn.init and default layer initialisation: formulas from the papers, gains from torch."""

import math

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn
from cnnlab.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu", None),
])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param),
                                                                     rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="calculate_gain: unsupported `nonlinearity`. Received: nonlinearity='swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="calculate_gain: `param` .* must be a number. Received: param='a'"):
        init.calculate_gain("leaky_relu", "a")


@pytest.mark.parametrize("shape", [(5, 3), (16, 4, 3, 3), (2, 3, 4, 5, 6)])
def test_fan_in_and_fan_out_equal_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(cnnlab.zeros(*shape)) == expected


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="calculate_fan_in_and_fan_out: fan in and fan out can not be computed for a "
                                         r"tensor with fewer than 2 dimensions. Received a tensor of shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(cnnlab.zeros(5))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(cnnlab.zeros(5))


def _stats(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def test_uniform_normal_constant():
    t = cnnlab.zeros(200, 300)
    assert init.uniform_(t, -2, 3) is t
    mean, std, lo, hi = _stats(t)
    assert lo >= -2 and hi <= 3 and abs(mean - 0.5) < 0.02 and abs(std - 5 / math.sqrt(12)) < 0.01
    init.normal_(t, 1.5, 0.5)
    mean, std, _, _ = _stats(t)
    assert abs(mean - 1.5) < 0.005 and abs(std - 0.5) < 0.005
    assert np.all(init.constant_(t, 0.25).numpy() == 0.25)
    assert np.all(init.zeros_(t).numpy() == 0) and np.all(init.ones_(t).numpy() == 1)
    assert t.dtype == np.float32  # filled in place, dtype kept


def test_trunc_normal_stays_in_bounds():
    t = cnnlab.zeros(100, 100, dtype="float64")
    init.trunc_normal_(t, mean=0.0, std=1.0, a=-0.5, b=1.0)
    _, _, lo, hi = _stats(t)
    assert lo >= -0.5 and hi <= 1.0
    # Mean of N(0, 1) truncated to [-0.5, 1]: (phi(-0.5) - phi(1)) / (Phi(1) - Phi(-0.5)).
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    expected = (phi(-0.5) - phi(1.0)) / (Phi(1.0) - Phi(-0.5))
    assert abs(t.numpy().mean() - expected) < 0.01


@pytest.mark.parametrize("shape", [(256, 512), (64, 32, 5, 5)])
def test_xavier_std_formula(shape):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    gain = 1.7
    expected_std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    t = cnnlab.zeros(*shape, dtype="float64")
    init.xavier_uniform_(t, gain=gain)
    _, std, lo, hi = _stats(t)
    assert max(-lo, hi) <= math.sqrt(3) * expected_std and abs(std / expected_std - 1) < 0.02
    init.xavier_normal_(t, gain=gain)
    assert abs(t.numpy().std() / expected_std - 1) < 0.02


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.1), ("leaky_relu", math.sqrt(5)),
                                            ("tanh", 0)])
def test_kaiming_std_formula(mode, nonlinearity, a):
    shape = (64, 32, 5, 5)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    expected_std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    t = cnnlab.zeros(*shape)
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    _, std, lo, hi = _stats(t)
    assert max(-lo, hi) <= math.sqrt(3) * expected_std * (1 + 1e-6) and abs(std / expected_std - 1) < 0.02
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    assert abs(t.numpy().astype(np.float64).std() / expected_std - 1) < 0.02


def test_init_errors():
    t = cnnlab.zeros(3, 4)
    with pytest.raises(ValueError, match="kaiming_uniform_: `mode` must be 'fan_in' or 'fan_out'. "
                                         "Received: mode='fan'"):
        init.kaiming_uniform_(t, mode="fan")
    with pytest.raises(ValueError, match="kaiming_normal_: unsupported `nonlinearity`. Received: nonlinearity='gelu'"):
        init.kaiming_normal_(t, nonlinearity="gelu")
    with pytest.raises(TypeError, match="uniform_: `tensor` must be a Tensor or Parameter. "
                                        "Received an object of type list"):
        init.uniform_([1.0, 2.0])
    with pytest.raises(ValueError, match="uniform_: `a` must not exceed `b`. Received: a=1.0, b=0.0"):
        init.uniform_(t, 1, 0)
    with pytest.raises(ValueError, match="normal_: `std` must be non-negative. Received: std=-1.0"):
        init.normal_(t, 0, -1)
    with pytest.raises(TypeError, match="normal_: `tensor` must be floating .* Received dtype int64"):
        init.normal_(cnnlab.tensor([1, 2]))
    with pytest.warns(UserWarning, match="zero-element tensor is a no-op"):
        init.kaiming_uniform_(cnnlab.zeros(0, 3))


def test_generator_argument_and_in_place_on_parameters():
    p = nn.Parameter(cnnlab.zeros(4, 4))
    data = p._data
    init.normal_(p, generator=np.random.default_rng(3))
    assert p._data is data and p.grad is None and p.is_leaf
    q = nn.Parameter(cnnlab.zeros(4, 4))
    init.normal_(q, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("fill,args,draw", [
    (init.uniform_, (-0.5, 2.0), lambda rng, n: rng.uniform(-0.5, 2.0, n)),
    (init.normal_, (0.25, 3.0), lambda rng, n: rng.normal(0.25, 3.0, n)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_fills_draw_in_chunks_the_values_of_one_draw(fill, args, draw, dtype):
    """A tensor over FILL_CHUNK values is filled a chunk at a time (no float64 copy of a whole large
    kernel left resident), with the very values one whole draw gives, in the tensor's dtype."""
    count = 2 * init.FILL_CHUNK + 123
    t = cnnlab.zeros(count // 3, 3, dtype=dtype)
    fill(t, *args, generator=np.random.default_rng(5))
    expected = draw(np.random.default_rng(5), count // 3 * 3).astype(dtype).reshape(count // 3, 3)
    np.testing.assert_array_equal(t.numpy(), expected)
    assert t.dtype == dtype


def test_large_fill_of_a_strided_view_writes_through():
    base = cnnlab.zeros(2 * init.FILL_CHUNK, 2)
    view = base[:, 1]
    init.uniform_(view, 1.0, 2.0)
    assert np.all(base.numpy()[:, 1] >= 1.0) and np.all(base.numpy()[:, 0] == 0)


# ---------------------------------------------------------------------------------------------- default init
@pytest.mark.parametrize("build,fan_in", [
    (lambda: nn.Conv2d(64, 128, 3), 64 * 9),
    (lambda: nn.Conv2d(64, 128, (3, 5), groups=4), 16 * 15),
    (lambda: nn.Linear(1000, 300), 1000),
])
def test_default_init_is_kaiming_uniform_a_sqrt5(build, fan_in):
    layer = build()
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.numpy().astype(np.float64)
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(w.mean()) < 0.02 * bound
    b = layer.bias.numpy()
    assert np.abs(b).max() <= bound * (1 + 1e-6)
    assert b.std() > 0.3 * bound  # filled, not left at zero


def test_batchnorm_default_init():
    bn = nn.BatchNorm2d(7)
    t = torch.nn.BatchNorm2d(7)
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, t.state_dict()[key].numpy(), err_msg=key)


def test_manual_seed_makes_construction_repeatable():
    def build():
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4))

    cnnlab.manual_seed(123)
    a = build()
    cnnlab.manual_seed(123)
    b = build()
    c = build()
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key])
    assert not np.array_equal(a.state_dict()["0.weight"], c.state_dict()["0.weight"])
