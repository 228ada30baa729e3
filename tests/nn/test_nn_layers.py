"""Every layer against torch.nn with the same weights: outputs, input gradients and parameter gradients."""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn
from helpers import assert_close

DTYPES = ("float64", "float32")
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def compare_layer(ours, theirs, inputs, dtype, extra=(), grads=None, train=True, seed=0, check_buffers=True):
    """Copy torch's state into ours, run both on ``inputs`` and compare outputs and every gradient.

    ``inputs`` are NumPy arrays that get gradients (unless ``grads`` says otherwise); ``extra`` are
    further arguments (e.g. integer targets) passed to both as constant tensors.
    """
    rng = np.random.default_rng(seed)
    ours.load_state_dict(theirs.state_dict())
    ours.to(dtype)
    theirs.to(TORCH_DTYPE[dtype])
    ours.train(train)
    theirs.train(train)
    grads = grads if grads is not None else [True] * len(inputs)
    xs = [cnnlab.tensor(a.astype(dtype), requires_grad=g) for a, g in zip(inputs, grads)]
    txs = [torch.tensor(a.astype(dtype), requires_grad=g) for a, g in zip(inputs, grads)]
    ex = [cnnlab.tensor(e.astype(dtype) if e.dtype.kind == "f" else e) for e in extra]
    tex = [torch.tensor(e.astype(dtype) if e.dtype.kind == "f" else e) for e in extra]
    out = ours(*xs, *ex)
    ref = theirs(*txs, *tex)
    assert out.dtype == np.dtype(dtype)
    assert_close(out.numpy(), ref.detach().numpy(), dtype, "forward")
    upstream = rng.standard_normal(tuple(ref.shape))
    out.backward(upstream.astype(dtype))
    ref.backward(torch.tensor(upstream.astype(dtype)))
    for i, (x, tx) in enumerate(zip(xs, txs)):
        if grads[i]:
            assert_close(x.grad.numpy(), tx.grad.numpy(), dtype, f"gradient of input {i}")
    for name, tp in theirs.named_parameters():
        p = ours.get_parameter(name)
        if tp.grad is None:
            assert p.grad is None, name
        else:
            assert_close(p.grad.numpy(), tp.grad.numpy(), dtype, f"gradient of {name}")
    if check_buffers:
        sd = ours.state_dict()
        for name, tb in theirs.named_buffers():
            if name in sd:
                assert_close(sd[name], tb.numpy(), dtype, f"buffer {name}")
    return out, ref


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------------------------- Conv2d
CONV_CASES = [
    # (in, out, kernel, kwargs, input shape)
    (3, 4, 3, {}, (2, 3, 7, 6)),
    (3, 4, (3, 2), dict(stride=(2, 1), padding=(1, 2)), (2, 3, 7, 6)),
    (2, 6, 3, dict(dilation=2, padding=2, bias=False), (1, 2, 9, 8)),
    (4, 6, 3, dict(groups=2, padding=1), (2, 4, 5, 5)),
    (4, 8, 3, dict(groups=4, stride=2), (2, 4, 7, 7)),  # depthwise, multiplier 2
    (2, 3, 4, dict(padding="same"), (2, 2, 6, 5)),  # even kernel: odd pixel at bottom/right
    (2, 3, 3, dict(padding="same", dilation=2), (1, 2, 7, 7)),
    (2, 3, 3, dict(padding="valid"), (1, 2, 5, 6)),
    (2, 3, 3, dict(padding=1, padding_mode="reflect"), (2, 2, 5, 6)),
    (2, 3, 3, dict(padding=(2, 1), padding_mode="replicate"), (2, 2, 5, 6)),
    (2, 3, 3, dict(padding=1, padding_mode="circular", stride=2), (2, 2, 6, 6)),
    (2, 4, 3, dict(padding="same", padding_mode="reflect", groups=2), (1, 2, 6, 6)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cin,cout,k,kw,shape", CONV_CASES)
def test_conv2d_matches_torch(cin, cout, k, kw, shape, dtype):
    torch.manual_seed(0)
    compare_layer(nn.Conv2d(cin, cout, k, **kw), torch.nn.Conv2d(cin, cout, k, **kw), [randn(*shape)], dtype)


def test_conv2d_asymmetric_padding_matches_torch_pad_then_conv():
    ours = nn.Conv2d(2, 3, 3, padding=((1, 2), (0, 1)))
    theirs = torch.nn.Conv2d(2, 3, 3)

    class Padded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = theirs

        def forward(self, x):
            return self.conv(torch.nn.functional.pad(x, (0, 1, 1, 2)))

    wrapper = nn.Sequential()
    wrapper.add_module("conv", ours)
    for dtype in DTYPES:
        out, _ = compare_layer(wrapper, Padded(), [randn(2, 2, 5, 5)], dtype)
        assert out.shape == (2, 3, 6, 4)


def test_conv2d_attributes():
    conv = nn.Conv2d(4, 8, 5, stride=2, padding=1, groups=2)
    assert conv.kernel_size == (5, 5) and conv.stride == (2, 2) and conv.padding == (1, 1)
    assert conv.dilation == (1, 1) and conv.groups == 2 and conv.padding_mode == "zeros"
    assert conv.weight.shape == (8, 2, 5, 5) and conv.bias.shape == (8,)
    assert conv.in_channels == 4 and conv.out_channels == 8
    assert nn.Conv2d(1, 1, 3, bias=False).bias is None


def test_conv2d_construction_errors():
    with pytest.raises(ValueError, match=r"Conv2d: `in_channels` \(3\) must be divisible by `groups` \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: `out_channels` \(5\) must be divisible by `groups` \(2\)"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: `groups` must be a positive int. Received: groups=0"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(TypeError, match="Conv2d: `in_channels` must be an int. Received: in_channels=3.0"):
        nn.Conv2d(3.0, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: `kernel_size` must be a positive int .* "
                                         r"Received: kernel_size=\(0, 3\)"):
        nn.Conv2d(1, 1, (0, 3))
    with pytest.raises(ValueError, match=r"Conv2d: `stride` must be a positive int .* Received: stride=\(0, 1\)"):
        nn.Conv2d(1, 1, 3, stride=(0, 1))
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: `padding` string must be 'same' or 'valid'. "
                                         "Received: padding='full'"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="Conv2d: `padding` must be a non-negative int.*Received: padding=-1"):
        nn.Conv2d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"Conv2d: `padding` as \(\(top, bottom\), \(left, right\)\) must hold"):
        nn.Conv2d(1, 1, 3, padding=((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="Conv2d: `padding_mode` must be one of 'zeros', 'reflect', 'replicate', "
                                         "'circular'. Received: padding_mode='wrap'"):
        nn.Conv2d(1, 1, 3, padding_mode="wrap")
    with pytest.raises(TypeError, match="Conv2d: `bias` must be a bool. Received: bias=None"):
        nn.Conv2d(1, 1, 3, bias=None)


def test_conv2d_forward_error_comes_from_the_op():
    with pytest.raises(Exception, match="conv2d"):
        nn.Conv2d(3, 4, 3)(cnnlab.randn(1, 2, 5, 5))


# ---------------------------------------------------------------------------------------------- Linear
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 6)])
def test_linear_matches_torch(shape, bias, dtype):
    torch.manual_seed(0)
    compare_layer(nn.Linear(6, 4, bias=bias), torch.nn.Linear(6, 4, bias=bias), [randn(*shape)], dtype)


def test_linear_errors():
    with pytest.raises(ValueError, match="Linear: `in_features` must be a non-negative int. Received: in_features=-1"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match="linear: input has 5 features but weight expects 6"):
        nn.Linear(6, 2)(cnnlab.randn(3, 5))


# ---------------------------------------------------------------------------------------------- pooling
POOL_CASES = [
    (lambda L: L.MaxPool2d(2), (2, 3, 6, 6)),
    (lambda L: L.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 6)),
    (lambda L: L.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True), (1, 2, 7, 8)),
    (lambda L: L.AvgPool2d(2), (2, 3, 6, 6)),
    (lambda L: L.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 2, 7, 6)),
    (lambda L: L.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 8, 7)),
    (lambda L: L.AvgPool2d(2, divisor_override=3), (1, 2, 6, 6)),
    (lambda L: L.LPPool2d(2, 2), (2, 2, 6, 6)),
    (lambda L: L.LPPool2d(3, (3, 2), stride=(2, 1)), (1, 2, 7, 5)),
    (lambda L: L.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    (lambda L: L.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    (lambda L: L.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("build,shape", POOL_CASES)
def test_pool_matches_torch(build, shape, dtype):
    x = randn(*shape)
    if "LPPool" in type(build(nn)).__name__:
        x = np.abs(x) + 0.1  # a power mean of positive values, away from the kink at zero
    compare_layer(build(nn), build(torch.nn), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_min_pool_is_negated_max_pool(dtype):
    class TorchMin(torch.nn.Module):
        def forward(self, x):
            return -torch.nn.functional.max_pool2d(-x, 3, 2, 1)

    compare_layer(nn.MinPool2d(3, 2, 1), TorchMin(), [randn(2, 2, 7, 7)], dtype)


def test_max_pool_return_indices_match_torch():
    x = randn(2, 2, 6, 5)
    out, idx = nn.MaxPool2d(2, return_indices=True)(cnnlab.tensor(x))
    tout, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    aout, aidx = nn.AdaptiveMaxPool2d(3, return_indices=True)(cnnlab.tensor(x))
    np.testing.assert_array_equal(aidx.numpy(), torch.nn.AdaptiveMaxPool2d(3, return_indices=True)(torch.tensor(x))[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(output_size=(4, 3)), dict(output_ratio=(0.5, 0.7))])
def test_fractional_max_pool_matches_torch_with_fixed_samples(kw, dtype):
    samples = np.random.default_rng(1).random((2, 3, 2))
    ours = nn.FractionalMaxPool2d(2, _random_samples=cnnlab.tensor(samples.astype(dtype)), **kw)
    theirs = torch.nn.FractionalMaxPool2d(2, _random_samples=torch.tensor(samples.astype(dtype)), **kw)
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    compare_layer(ours, theirs, [randn(2, 3, 9, 7)], dtype)


def test_fractional_max_pool_random_windows_are_seeded():
    x = cnnlab.tensor(randn(1, 2, 10, 10))
    pool = nn.FractionalMaxPool2d(3, output_ratio=0.5)
    cnnlab.manual_seed(5)
    a = pool(x).numpy()
    cnnlab.manual_seed(5)
    np.testing.assert_array_equal(pool(x).numpy(), a)
    assert a.shape == (1, 2, 5, 5)


def test_stochastic_pool_eval_is_probability_weighted_average():
    x = np.abs(randn(2, 3, 6, 6)) + 0.01
    pool = nn.StochasticPool2d(2).eval()
    # sum(a * a / sum(a)) over each window = avg_pool(a^2) / avg_pool(a), computed with torch.
    t = torch.tensor(x)
    expected = torch.nn.functional.avg_pool2d(t * t, 2) / torch.nn.functional.avg_pool2d(t, 2)
    assert_close(pool(cnnlab.tensor(x)).numpy(), expected.numpy(), "float64")


def test_stochastic_pool_train_samples_window_values_by_their_weight():
    # One 1x2 window holding [1, 3]: the output is 3 with probability 3/4.
    x = cnnlab.tensor(np.tile(np.array([1.0, 3.0]), (4000, 1, 1, 1)))
    pool = nn.StochasticPool2d((1, 2))
    cnnlab.manual_seed(0)
    out = pool(x).numpy().ravel()
    assert set(np.unique(out)) <= {1.0, 3.0}
    assert abs((out == 3.0).mean() - 0.75) < 0.03
    assert pool.training and pool.stride == (1, 2)


def test_pool_construction_errors():
    with pytest.raises(ValueError, match=r"MaxPool2d: `kernel_size` must be a positive int .* Received: kernel_size=0"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="MaxPool2d: `padding` must be at most half of the effective kernel size"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(TypeError, match="AvgPool2d: `ceil_mode` must be a bool. Received: ceil_mode=1"):
        nn.AvgPool2d(2, ceil_mode=1)
    with pytest.raises(ValueError, match="AvgPool2d: `divisor_override` must be None or a non-zero int"):
        nn.AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match=r"LPPool2d: `norm_type` must be > 0. Received: norm_type=0.0"):
        nn.LPPool2d(0, 2)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: `output_size` must be a positive int or a pair"):
        nn.AdaptiveAvgPool2d((0, 2))
    with pytest.raises(ValueError, match="FractionalMaxPool2d: requires specifying either `output_size` or "
                                         "`output_ratio`"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="FractionalMaxPool2d: only one of `output_size` and `output_ratio`"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match=r"FractionalMaxPool2d: `output_ratio` must be .* strictly between 0 and 1. "
                                         r"Received: output_ratio=1.5"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)


# ---------------------------------------------------------------------------------------------- activations
ACT_CASES = [
    lambda L: L.ReLU(),
    lambda L: L.ReLU(inplace=L is nn),  # ours ignores inplace; torch's in-place form rejects a leaf input
    lambda L: L.LeakyReLU(), lambda L: L.LeakyReLU(0.3),
    lambda L: L.ELU(), lambda L: L.ELU(0.7), lambda L: L.Sigmoid(), lambda L: L.Tanh(),
    lambda L: L.Hardtanh(-0.5, 1.5), lambda L: L.ReLU6(), lambda L: L.Softmax(dim=1), lambda L: L.Softmax(dim=-1),
    lambda L: L.LogSoftmax(dim=1), lambda L: L.LogSoftmax(dim=0), lambda L: L.Flatten(),
    lambda L: L.Flatten(0, 2), lambda L: L.Identity(),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("build", ACT_CASES)
def test_activation_matches_torch(build, dtype):
    x = randn(3, 4, 5) * 3
    compare_layer(build(nn), build(torch.nn), [x], dtype)


def test_softmax_without_dim_warns_and_uses_torch_legacy_choice():
    x = randn(3, 4)
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        out = nn.Softmax()(cnnlab.tensor(x))
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax()(torch.tensor(x))
    assert_close(out.numpy(), expected.numpy())


def test_activation_errors():
    with pytest.raises(TypeError, match="LeakyReLU: `negative_slope` must be a real number. "
                                        "Received: negative_slope='a'"):
        nn.LeakyReLU("a")
    with pytest.raises(ValueError, match="Hardtanh: `max_val` must be greater than `min_val`"):
        nn.Hardtanh(1.0, 0.0)
    with pytest.raises(TypeError, match="Hardtanh: `max_val` must be a real number. Received: max_val='b'"):
        nn.Hardtanh(0.0, "b")
    with pytest.raises(TypeError, match="Flatten: `start_dim` must be an int. Received: start_dim=1.5"):
        nn.Flatten(1.5)


@pytest.mark.parametrize("build", [
    lambda L: L.ReLU(True), lambda L: L.LeakyReLU(0.3, True), lambda L: L.LeakyReLU(1), lambda L: L.ELU(),
    lambda L: L.ELU(0.7, inplace=True), lambda L: L.Hardtanh(-2, 2, True), lambda L: L.ReLU6(True),
    lambda L: L.SiLU(inplace=True), lambda L: L.Hardswish(inplace=True), lambda L: L.Softmax(1), lambda L: L.LogSoftmax(),
    lambda L: L.MaxPool2d(3, 2, 1), lambda L: L.AvgPool2d(3, padding=1, divisor_override=2),
    lambda L: L.LPPool2d(2, 3), lambda L: L.AdaptiveAvgPool2d((None, 2)),
    lambda L: L.AdaptiveMaxPool2d(3, return_indices=True), lambda L: L.LocalResponseNorm(2, k=2),
])
def test_activation_and_pooling_attributes_and_repr_match_torch(build):
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    for name, value in vars(ours).items():
        if not name.startswith("_"):
            assert getattr(theirs, name) == value, name


# ---------------------------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("build,shape", [
    (lambda L: L.BatchNorm2d(3), (4, 3, 5, 5)),
    (lambda L: L.BatchNorm2d(3, momentum=0.3, eps=1e-3), (2, 3, 4, 3)),
    (lambda L: L.BatchNorm2d(3, momentum=None), (4, 3, 3, 3)),
    (lambda L: L.BatchNorm2d(3, affine=False), (4, 3, 3, 3)),
    (lambda L: L.BatchNorm2d(3, bias=False), (4, 3, 3, 3)),
    (lambda L: L.BatchNorm2d(3, track_running_stats=False), (4, 3, 3, 3)),
    (lambda L: L.BatchNorm1d(5), (8, 5)),
    (lambda L: L.BatchNorm1d(5, momentum=None), (4, 5, 6)),
])
def test_batchnorm_train_steps_then_eval_match_torch(build, shape, dtype):
    torch.manual_seed(0)
    ours, theirs = build(nn), build(torch.nn)
    if theirs.affine:
        with torch.no_grad():  # non-trivial affine parameters
            theirs.weight.uniform_(0.5, 1.5)
            if theirs.bias is not None:
                theirs.bias.uniform_(-0.5, 0.5)
    compare_layer(ours, theirs, [randn(*shape, seed=1) * 2 + 1], dtype, train=True)
    for step in range(2, 5):  # several training steps: running statistics follow torch's
        x = randn(*shape, seed=step) * step + step
        out = ours.train()(cnnlab.tensor(x.astype(dtype)))
        ref = theirs.train()(torch.tensor(x.astype(dtype)))
        assert_close(out.numpy(), ref.detach().numpy(), dtype, f"forward at step {step}")
    for name, tb in theirs.named_buffers():
        assert_close(ours.state_dict()[name], tb.numpy(), dtype, name)
    if theirs.track_running_stats:
        assert int(ours.num_batches_tracked.item()) == 4 and ours.num_batches_tracked.dtype == np.int64
    else:
        assert ours.running_mean is None and "running_mean" not in ours.state_dict()
    # Evaluation: running statistics (or batch statistics when none are tracked); gradients too.
    ours.zero_grad()
    theirs.zero_grad()
    ours_state = {k: v.clone() for k, v in ours.state_dict().items()}
    theirs.eval()
    x_eval = randn(*shape, seed=9)
    xs, txs = cnnlab.tensor(x_eval.astype(dtype), requires_grad=True), torch.tensor(x_eval.astype(dtype),
                                                                                      requires_grad=True)
    out, ref = ours.eval()(xs), theirs(txs)
    assert_close(out.numpy(), ref.detach().numpy(), dtype, "eval forward")
    g = randn(*shape, seed=10).astype(dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    assert_close(xs.grad.numpy(), txs.grad.numpy(), dtype, "eval input gradient")
    for name, tp in theirs.named_parameters():
        assert_close(ours.get_parameter(name).grad.numpy(), tp.grad.numpy(), dtype, f"eval gradient of {name}")
    for key, value in ours.state_dict().items():  # evaluation changes no buffer
        np.testing.assert_array_equal(value, ours_state[key])


def test_batchnorm_input_checks():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D \(N, C, H, W\) input. Received a 2-D input "
                                         r"of shape \(4, 3\)"):
        nn.BatchNorm2d(3)(cnnlab.randn(4, 3))
    with pytest.raises(ValueError, match="BatchNorm1d: expected a 2-D .* Received a 4-D input"):
        nn.BatchNorm1d(3)(cnnlab.randn(4, 3, 2, 2))
    with pytest.raises(ValueError, match=r"BatchNorm2d: `momentum` must be in \[0, 1\]. Received: momentum=1.5"):
        nn.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm2d: `num_features` must be a positive int. "
                                         "Received: num_features=0"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: `eps` must be > 0. Received: eps=0.0"):
        nn.BatchNorm2d(2, eps=0)


def test_batchnorm_reset_running_stats():
    bn = nn.BatchNorm2d(2)
    bn(cnnlab.randn(3, 2, 2, 2) + 5)
    bn.reset_running_stats()
    sd = bn.state_dict()
    assert np.all(sd["running_mean"] == 0) and np.all(sd["running_var"] == 1) and sd["num_batches_tracked"] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(size=2), dict(size=5, alpha=1e-2, beta=0.5, k=2.0)])
def test_local_response_norm_matches_torch(kw, dtype):
    compare_layer(nn.LocalResponseNorm(**kw), torch.nn.LocalResponseNorm(**kw), [randn(2, 7, 4, 3) * 3], dtype)


# ---------------------------------------------------------------------------------------------- dropout
def test_dropout_eval_is_identity_and_train_mask_statistics():
    x = cnnlab.tensor(np.ones((200, 250)), requires_grad=True)
    drop = nn.Dropout(0.3)
    assert drop.eval()(x).numpy().tolist() == x.numpy().tolist()
    cnnlab.manual_seed(0)
    out = drop.train()(x)
    values = out.numpy()
    assert set(np.unique(np.round(values, 12))) <= {0.0, round(1 / 0.7, 12)}
    assert abs((values == 0).mean() - 0.3) < 0.01
    upstream = np.random.default_rng(0).standard_normal(values.shape)
    out.backward(upstream)
    np.testing.assert_allclose(x.grad.numpy(), upstream * values)  # gradient flows through the same mask
    cnnlab.manual_seed(0)
    np.testing.assert_array_equal(drop(x).numpy(), values)  # seeded masks repeat
    assert nn.Dropout(0.0)(x).numpy().tolist() == x.numpy().tolist()
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)


def test_dropout2d_zeros_whole_channels():
    x = cnnlab.tensor(np.ones((50, 40, 3, 3)))
    out = nn.Dropout2d(0.5)(x).numpy()
    per_channel = out.reshape(50, 40, 9)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05
    assert nn.Dropout2d().eval()(x).numpy().tolist() == x.numpy().tolist()


def test_dropout_errors():
    with pytest.raises(ValueError, match="Dropout: `p` .* must be between 0 and 1. Received: p=1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="Dropout2d: `p` .* Received: p=-0.1"):
        nn.Dropout2d(-0.1)


# ---------------------------------------------------------------------------------------------- losses
def _targets(n, c, seed=0, ignore=None):
    t = np.random.default_rng(seed).integers(0, c, size=n)
    if ignore is not None:
        t[::3] = ignore
    return t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("build", [
    lambda L, w: L.CrossEntropyLoss(),
    lambda L, w: L.CrossEntropyLoss(weight=w, reduction="sum"),
    lambda L, w: L.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.2),
    lambda L, w: L.CrossEntropyLoss(reduction="none", label_smoothing=0.1),
    lambda L, w: L.NLLLoss(),
    lambda L, w: L.NLLLoss(weight=w, ignore_index=1, reduction="mean"),
    lambda L, w: L.NLLLoss(reduction="none"),
])
def test_classification_losses_match_torch(build, dtype):
    w = np.random.default_rng(2).random(5) + 0.5
    ours = build(nn, cnnlab.tensor(w.astype(dtype)))
    theirs = build(torch.nn, torch.tensor(w.astype(dtype)))
    assert list(ours.state_dict()) == list(theirs.state_dict())  # the class weight is a buffer in both
    compare_layer(ours, theirs, [randn(6, 5)], dtype, extra=[_targets(6, 5)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_spatial_targets(dtype):
    target = np.random.default_rng(0).integers(0, 4, size=(2, 3, 3))
    compare_layer(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), [randn(2, 4, 3, 3)], dtype, extra=[target])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_and_binary_losses_match_torch(reduction, dtype):
    x, y = randn(4, 3), randn(4, 3, seed=1)
    compare_layer(nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), [x, y], dtype)
    p = 1 / (1 + np.exp(-x))
    t = (randn(4, 3, seed=2) > 0).astype(np.float64)
    w = np.random.default_rng(3).random(3) + 0.5
    compare_layer(nn.BCELoss(weight=cnnlab.tensor(w.astype(dtype)), reduction=reduction),
                  torch.nn.BCELoss(weight=torch.tensor(w.astype(dtype)), reduction=reduction), [p], dtype, extra=[t])
    compare_layer(nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=cnnlab.tensor(w.astype(dtype))),
                  torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(w.astype(dtype))),
                  [x * 4], dtype, extra=[t])


def test_loss_errors_and_legacy_arguments():
    with pytest.raises(ValueError, match="MSELoss: `reduction` must be one of 'none', 'mean', 'sum'. "
                                         "Received: reduction='avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: `label_smoothing` must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    with pytest.raises(TypeError, match="NLLLoss: `weight` must be a Tensor or None. Received an object of type str"):
        nn.NLLLoss(weight="w")
    with pytest.warns(DeprecationWarning, match="`size_average` and `reduce` are deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(DeprecationWarning):
        assert nn.CrossEntropyLoss(None, None, -100, False).reduction == "none"


# ---------------------------------------------------------------------------------------------- a whole model
@pytest.mark.parametrize("dtype", DTYPES)
def test_small_cnn_training_step_matches_torch(dtype):
    def build(L):
        return L.Sequential(L.Conv2d(1, 4, 3, padding=1), L.BatchNorm2d(4), L.ReLU(), L.MaxPool2d(2),
                            L.Conv2d(4, 6, 3, groups=2, padding="same"), L.ELU(), L.AdaptiveAvgPool2d(2),
                            L.Flatten(), L.Dropout(0.0), L.Linear(24, 5), L.LogSoftmax(dim=1))

    torch.manual_seed(0)
    ours, theirs = build(nn), build(torch.nn)
    x, target = randn(3, 1, 8, 8), _targets(3, 5)

    class WithLoss(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x, t):
            return torch.nn.functional.nll_loss(self.net(x), t)

    class OursWithLoss(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net
            self.loss = nn.NLLLoss()

        def forward(self, x, t):
            return self.loss(self.net(x), t)

    compare_layer(OursWithLoss(ours), WithLoss(theirs), [x], dtype, extra=[target])
