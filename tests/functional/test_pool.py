"""Pooling ops against PyTorch (forward, indices and every gradient), finite differences, and error paths."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
from cnnlab import functional as P
from helpers import assert_close, check_against_torch, gradcheck


def _distinct(rng, shape):
    """Values without ties (a shuffled ramp), so every window has one unambiguous arg-max."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0


def _shape(rng, kernel, dilation, padding):
    """A random (N, C, H, W) that fits at least one window, each window holding an input element."""
    sizes = []
    for k, d, p in zip(kernel, dilation, padding):
        span = d * (k - 1) + 1
        low = max(1, span - 2 * p, d if p else 1)  # a size below the dilation can leave a window all padding
        sizes.append(int(rng.integers(low, span + 8)))
    return (int(rng.integers(1, 4)), int(rng.integers(1, 4)), *sizes)


def _max_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    for i in range(count):
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        if i % 5 == 0:  # windows that tile the input: the reshape fast path
            kernel, dilation = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), (1, 1)
            stride, padding, ceil = kernel, (0, 0), bool(rng.integers(2))
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                     kernel[0] * int(rng.integers(1, 4)), kernel[1] * int(rng.integers(1, 4)))
        else:
            stride = None if rng.random() < 0.15 else tuple(int(v) for v in rng.integers(1, 4, 2))
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            ceil = bool(rng.integers(2))
            shape = _shape(rng, kernel, dilation, padding)
        configs.append((shape, kernel, stride, padding, dilation, ceil, int(rng.integers(1 << 30))))
    return configs


MAX_CONFIGS = _max_configs(200, 1)


@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil,seed", MAX_CONFIGS)
def test_max_pool2d_matches_torch(shape, kernel, stride, padding, dilation, ceil, seed):
    x = _distinct(np.random.default_rng(seed), shape)
    args = (kernel, stride, padding, dilation, ceil)
    check_against_torch(lambda t: P.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), [x], seed=seed)
    out, idx = P.max_pool2d(cnnlab.tensor(x), *args, return_indices=True)
    ref, ref_idx = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("shape,kernel,stride,padding,dilation,ceil,seed", MAX_CONFIGS[:60])
def test_min_pool2d_is_negated_max_of_negation(shape, kernel, stride, padding, dilation, ceil, seed):
    x = _distinct(np.random.default_rng(seed), shape)
    args = (kernel, stride, padding, dilation, ceil)
    check_against_torch(lambda t: P.min_pool2d(t, *args), lambda t: -TF.max_pool2d(-t, *args), [x], seed=seed)
    _, idx = P.min_pool2d(cnnlab.tensor(x), *args, return_indices=True)
    _, ref_idx = TF.max_pool2d(torch.tensor(-x), *args, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


def _avg_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    for i in range(count):
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        if i % 5 == 0:
            stride, padding = kernel, (0, 0)
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                     kernel[0] * int(rng.integers(1, 4)), kernel[1] * int(rng.integers(1, 4)))
        else:
            stride = None if rng.random() < 0.15 else tuple(int(v) for v in rng.integers(1, 4, 2))
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            shape = _shape(rng, kernel, (1, 1), padding)
        ceil, include = bool(rng.integers(2)), bool(rng.integers(2))
        override = int(rng.integers(1, 7)) if rng.random() < 0.15 else None
        configs.append((shape, kernel, stride, padding, ceil, include, override, int(rng.integers(1 << 30))))
    return configs


@pytest.mark.parametrize("shape,kernel,stride,padding,ceil,include,override,seed", _avg_configs(200, 2))
def test_avg_pool2d_matches_torch(shape, kernel, stride, padding, ceil, include, override, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    args = (kernel, stride, padding, ceil, include, override)
    check_against_torch(lambda t: P.avg_pool2d(t, *args), lambda t: TF.avg_pool2d(t, *args), [x], seed=seed)


def test_ceil_mode_partial_windows_are_divided_by_their_clipped_size():
    # 5 wide, kernel 2, stride 2, ceil: the third window holds one real column and hangs off the edge.
    x = np.arange(10.0).reshape(1, 1, 2, 5)
    out = P.avg_pool2d(cnnlab.tensor(x), 2, ceil_mode=True).numpy()
    expected = np.array([[[[(0 + 1 + 5 + 6) / 4, (2 + 3 + 7 + 8) / 4, (4 + 9) / 2]]]])
    np.testing.assert_allclose(out, expected)


def test_default_stride_is_kernel_size():
    x = cnnlab.tensor(np.random.default_rng(0).standard_normal((1, 2, 6, 6)))
    for fn in (P.max_pool2d, P.avg_pool2d, P.min_pool2d):
        np.testing.assert_array_equal(fn(x, 2).numpy(), fn(x, 2, 2).numpy())
        np.testing.assert_array_equal(fn(x, 2, []).numpy(), fn(x, 2, 2).numpy())


def test_max_pool2d_ties_match_torch():
    # Values from {0, 1, 2}: most windows hold several maxima; PyTorch's pick is the first in window order.
    x = np.random.default_rng(3).integers(0, 3, (2, 3, 9, 8)).astype(np.float64)
    for args in [(2, 2, 0, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, True), ((2, 3), (2, 1), (1, 1), 1, True)]:
        check_against_torch(lambda t: P.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), [x])
        _, idx = P.max_pool2d(cnnlab.tensor(x), *args, return_indices=True)
        _, ref_idx = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    check_against_torch(lambda t: P.adaptive_max_pool2d(t, (4, 3)), lambda t: TF.adaptive_max_pool2d(t, (4, 3)), [x])
    _, idx = P.adaptive_max_pool2d(cnnlab.tensor(x), (4, 3), return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.adaptive_max_pool2d(torch.tensor(x), (4, 3), True)[1].numpy())


def test_max_pool2d_nan_and_infinite_inputs_match_torch():
    x = np.random.default_rng(4).integers(0, 3, (2, 2, 6, 7)).astype(np.float64)
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan  # NaN wins; PyTorch reports the window's last NaN
    x[1, 1, :3, :3] = -np.inf  # all-(-inf) windows next to padding: PyTorch reports the first real element
    x[1, 0, :2, :] = -np.inf
    for args in [(3, 2, 1, 1, True), (2, 1, 1, 1, False), (3, 1, 1, 2, False)]:
        out, idx = P.max_pool2d(cnnlab.tensor(x), *args, return_indices=True)
        ref, ref_idx = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
        np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    out, idx = P.adaptive_max_pool2d(cnnlab.tensor(x), (4, 5), return_indices=True)
    ref, ref_idx = TF.adaptive_max_pool2d(torch.tensor(x), (4, 5), return_indices=True)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


def test_window_of_padding_only_gives_minus_infinity_and_no_gradient():
    # Width 1, kernel 2 with dilation 2 and padding 1: the taps fall at -1 and 1, both outside the input.
    # NOTE: PyTorch reports index 1 here (an element of the next row) and sends it the gradient.
    t = cnnlab.tensor(np.ones((1, 1, 2, 1)), requires_grad=True)
    out = P.max_pool2d(t, (1, 2), padding=(0, 1), dilation=2)
    np.testing.assert_array_equal(out.numpy(), TF.max_pool2d(torch.ones(1, 1, 2, 1), (1, 2), 1, (0, 1), 2).numpy())
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(t.grad.numpy(), np.zeros((1, 1, 2, 1)))


def test_max_pool2d_without_grad_gives_the_same_values():
    x = _distinct(np.random.default_rng(5), (2, 3, 7, 8))
    with cnnlab.no_grad():
        fast = P.max_pool2d(cnnlab.tensor(x, requires_grad=True), 3, 2, 1, ceil_mode=True).numpy()
    np.testing.assert_array_equal(fast, TF.max_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True).numpy())


def test_unbatched_input_matches_torch():
    rng = np.random.default_rng(6)
    x = _distinct(rng, (3, 7, 9))
    cases = [
        (lambda t: P.max_pool2d(t, 3, 2, 1, ceil_mode=True), lambda t: TF.max_pool2d(t, 3, 2, 1, ceil_mode=True)),
        (lambda t: P.avg_pool2d(t, 2, 1, 1, False, False), lambda t: TF.avg_pool2d(t, 2, 1, 1, False, False)),
        (lambda t: P.adaptive_avg_pool2d(t, (4, 5)), lambda t: TF.adaptive_avg_pool2d(t, (4, 5))),
        (lambda t: P.adaptive_max_pool2d(t, (4, 5)), lambda t: TF.adaptive_max_pool2d(t, (4, 5))),
        (lambda t: P.lp_pool2d(t, 2, 2), lambda t: TF.lp_pool2d(t, 2, 2)),
        (lambda t: P.global_avg_pool2d(t), lambda t: t.mean((1, 2), keepdim=True)),
        (lambda t: P.subsample2d(t, 2), lambda t: t[:, :5:2, :8:2]),  # 3 x 4 windows of 2 x 2
    ]
    for ours, theirs in cases:
        check_against_torch(ours, theirs, [x])
    _, idx = P.max_pool2d(cnnlab.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.max_pool2d(torch.tensor(x), 2, return_indices=True)[1].numpy())
    s = rng.random((1, 3, 2))
    check_against_torch(
        lambda t: P.fractional_max_pool2d(t, 2, (4, 5), _random_samples=s),
        lambda t: TF.fractional_max_pool2d(t, 2, (4, 5), _random_samples=torch.tensor(s, dtype=t.dtype)), [x])


# ----------------------------------------------------------------------------------------------- Lp pooling

def _lp_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(count):
        p = [1.0, 2.0, 3.0, 1.5, 2.5, math.inf][int(rng.integers(6))]
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        stride = None if rng.random() < 0.3 else tuple(int(v) for v in rng.integers(1, 4, 2))
        configs.append((p, _shape(rng, kernel, (1, 1), (0, 0)), kernel, stride, bool(rng.integers(2)),
                        int(rng.integers(1 << 30))))
    return configs


@pytest.mark.parametrize("p,shape,kernel,stride,ceil,seed", _lp_configs(60, 3))
def test_lp_pool2d_matches_torch(p, shape, kernel, stride, ceil, seed):
    rng = np.random.default_rng(seed)
    # Positive inputs keep x ** p and its root real for non-integer p; p = 2 also gets signed inputs.
    x = rng.standard_normal(shape) if p == 2.0 else rng.uniform(0.2, 2.0, shape)
    if p == math.inf:
        x = _distinct(rng, shape)
    check_against_torch(lambda t: P.lp_pool2d(t, p, kernel, stride, ceil),
                        lambda t: TF.lp_pool2d(t, p, kernel, stride, ceil), [x], seed=seed)


def test_lp_pool2d_l2_by_hand_and_zero_windows():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, :, :2] = [[3.0, 0.0], [0.0, 4.0]]  # first window: sqrt(9 + 16) = 5; second window all zero
    t = cnnlab.tensor(x, requires_grad=True)
    out = P.lp_pool2d(t, 2, 2)
    np.testing.assert_allclose(out.numpy(), [[[[5.0, 0.0]]]])
    out.backward(np.ones((1, 1, 1, 2)))
    # d/dx sqrt(sum x^2) = x / 5 in the first window; PyTorch documents a zero gradient for a zero sum.
    np.testing.assert_allclose(t.grad.numpy()[0, 0], [[0.6, 0, 0, 0], [0, 0.8, 0, 0]])


def test_lp_pool2d_minus_infinity_matches_torch():
    x = _distinct(np.random.default_rng(7), (2, 2, 6, 5))
    check_against_torch(lambda t: P.lp_pool2d(t, -math.inf, 2, 1), lambda t: TF.lp_pool2d(t, -math.inf, 2, 1), [x])


# ----------------------------------------------------------------------------------------- adaptive pooling

def _adaptive_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    for i in range(count):
        h, w = (int(v) for v in rng.integers(1, 14, 2))
        if i % 4 == 0:  # output divides the input: the reshape path
            out = (int(rng.choice([d for d in range(1, h + 1) if h % d == 0])),
                   int(rng.choice([d for d in range(1, w + 1) if w % d == 0])))
        else:  # any size, larger than the input included
            out = tuple(int(v) for v in rng.integers(1, 16, 2))
        if i % 7 == 3:
            out = (None, out[1]) if i % 2 else (out[0], None)
        elif i % 11 == 5:
            out = out[0]
        configs.append(((int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w), out, int(rng.integers(1 << 30))))
    return configs


ADAPTIVE_CONFIGS = _adaptive_configs(80, 4)


@pytest.mark.parametrize("shape,out,seed", ADAPTIVE_CONFIGS)
def test_adaptive_avg_pool2d_matches_torch(shape, out, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    check_against_torch(lambda t: P.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), [x],
                        seed=seed)


@pytest.mark.parametrize("shape,out,seed", ADAPTIVE_CONFIGS)
def test_adaptive_max_pool2d_matches_torch(shape, out, seed):
    x = _distinct(np.random.default_rng(seed), shape)
    check_against_torch(lambda t: P.adaptive_max_pool2d(t, out), lambda t: TF.adaptive_max_pool2d(t, out), [x],
                        seed=seed)
    _, idx = P.adaptive_max_pool2d(cnnlab.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.adaptive_max_pool2d(torch.tensor(x), out, True)[1].numpy())


def test_global_pooling_matches_torch():
    x = _distinct(np.random.default_rng(8), (3, 4, 5, 7))
    check_against_torch(P.global_avg_pool2d, lambda t: t.mean((2, 3), keepdim=True), [x])
    check_against_torch(P.global_max_pool2d, lambda t: TF.adaptive_max_pool2d(t, 1), [x])
    ties = np.random.default_rng(9).integers(0, 2, (2, 3, 4, 4)).astype(np.float64)
    check_against_torch(P.global_max_pool2d, lambda t: TF.adaptive_max_pool2d(t, 1), [ties])


# ------------------------------------------------------------------------------------------------ subsample

@pytest.mark.parametrize("shape,kernel,stride", [((2, 3, 7, 8), 2, None), ((1, 2, 9, 9), 3, 2),
                                                 ((2, 1, 6, 10), (2, 3), (1, 3)), ((1, 1, 5, 5), 5, None)])
def test_subsample2d_keeps_top_left_of_each_window(shape, kernel, stride):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    oh, ow = (shape[2] - kh) // sh + 1, (shape[3] - kw) // sw + 1
    x = np.random.default_rng(10).standard_normal(shape)
    check_against_torch(lambda t: P.subsample2d(t, kernel, stride),
                        lambda t: t[:, :, ::sh, ::sw][:, :, :oh, :ow], [x])


# ------------------------------------------------------------------------------------ stochastic pooling

def test_stochastic_pool2d_inference_is_the_expectation():
    # sum(p_i a_i) = sum(a^2) / sum(a), written with PyTorch ops so PyTorch's autograd is the oracle.
    x = np.random.default_rng(11).uniform(0.1, 2.0, (2, 3, 7, 8))
    for kernel, stride in [(2, None), (3, 1), ((2, 3), (2, 1))]:
        check_against_torch(lambda t: P.stochastic_pool2d(t, kernel, stride, training=False),
                            lambda t: TF.avg_pool2d(t * t, kernel, stride) / TF.avg_pool2d(t, kernel, stride), [x])


def test_stochastic_pool2d_training_picks_one_positive_element_per_window():
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, (2, 3, 8, 10)) * (rng.random((2, 3, 8, 10)) < 0.6)  # many zeros
    x[0, 0, :2, :2] = 0.0  # an all-zero window
    t = cnnlab.tensor(x, requires_grad=True)
    out = P.stochastic_pool2d(t, 2, generator=np.random.default_rng(0))
    out.backward(np.ones(out.shape))
    grad = t.grad.numpy().reshape(2, 3, 4, 2, 5, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 4, 5, 4)
    vals = x.reshape(2, 3, 4, 2, 5, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 4, 5, 4)
    alive = vals.sum(-1) > 0
    assert out.numpy()[0, 0, 0, 0] == 0 and not alive[0, 0, 0, 0]
    np.testing.assert_array_equal((grad != 0).sum(-1), alive.astype(int))  # one pick per non-zero window
    np.testing.assert_array_equal(grad.sum(-1), alive.astype(float))
    picked = np.where(alive, (vals * grad).sum(-1), 0.0)
    np.testing.assert_array_equal(out.numpy(), picked)  # the output is the picked activation
    assert (vals[grad == 1] > 0).all()  # never a zero-probability location


def test_stochastic_pool2d_pick_frequencies_follow_the_activations():
    a = np.array([[0.0, 1.0], [2.0, 5.0]])  # probabilities 0, 1/8, 2/8, 5/8
    x = np.tile(a, (1, 1, 1, 20000))  # (1, 1, 2, 40000): 20000 identical windows
    out = P.stochastic_pool2d(cnnlab.tensor(x), 2, generator=np.random.default_rng(13)).numpy().ravel()
    freq = np.array([(out == v).mean() for v in a.ravel()])
    np.testing.assert_allclose(freq, a.ravel() / a.sum(), atol=0.01)


def test_stochastic_pool2d_uses_cnnlabs_generator_and_float32():
    x = np.random.default_rng(14).uniform(0, 1, (2, 2, 6, 6)).astype(np.float32)
    cnnlab.manual_seed(5)
    first = P.stochastic_pool2d(cnnlab.tensor(x), 3).numpy()
    cnnlab.manual_seed(5)
    second = P.stochastic_pool2d(cnnlab.tensor(x), 3).numpy()
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert np.isin(first, x).all()


# ------------------------------------------------------------------------------------ fractional pooling

def _fractional_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(count):
        kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
        h, w = (int(v) for v in rng.integers(4, 25, 2))
        out = (int(rng.integers(1, h - kernel[0] + 2)), int(rng.integers(1, w - kernel[1] + 2)))
        configs.append(((int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w), kernel, out,
                        int(rng.integers(1 << 30))))
    return configs


@pytest.mark.parametrize("shape,kernel,out,seed", _fractional_configs(100, 5))
def test_fractional_max_pool2d_matches_torch(shape, kernel, out, seed):
    rng = np.random.default_rng(seed)
    x = _distinct(rng, shape)
    samples = rng.random((shape[0], shape[1], 2))
    check_against_torch(
        lambda t: P.fractional_max_pool2d(t, kernel, out, _random_samples=samples),
        lambda t: TF.fractional_max_pool2d(t, kernel, out, _random_samples=torch.tensor(samples, dtype=t.dtype)),
        [x], seed=seed)
    for dtype in (np.float64, np.float32):  # the window starts are rounded in the input's dtype
        s = samples.astype(dtype)
        _, idx = P.fractional_max_pool2d(cnnlab.tensor(x.astype(dtype)), kernel, out, return_indices=True,
                                         _random_samples=s)
        _, ref = TF.fractional_max_pool2d(torch.tensor(x.astype(dtype)), kernel, out, return_indices=True,
                                          _random_samples=torch.tensor(s))
        np.testing.assert_array_equal(idx.numpy(), ref.numpy())


def test_fractional_max_pool2d_output_ratio_and_ties_match_torch():
    rng = np.random.default_rng(15)
    x = rng.integers(0, 3, (2, 3, 11, 13)).astype(np.float64)
    samples = rng.random((2, 3, 2))
    for ratio in (0.5, (0.7, 0.45)):
        pair = ratio if isinstance(ratio, tuple) else (ratio, ratio)  # PyTorch's functional form takes a pair only
        check_against_torch(
            lambda t: P.fractional_max_pool2d(t, 2, output_ratio=ratio, _random_samples=samples),
            lambda t: TF.fractional_max_pool2d(t, 2, output_ratio=pair,
                                               _random_samples=torch.tensor(samples, dtype=t.dtype)), [x])
        _, idx = P.fractional_max_pool2d(cnnlab.tensor(x), 2, output_ratio=ratio, return_indices=True,
                                         _random_samples=samples)
        _, ref = TF.fractional_max_pool2d(torch.tensor(x), 2, output_ratio=pair, return_indices=True,
                                          _random_samples=torch.tensor(samples))
        np.testing.assert_array_equal(idx.numpy(), ref.numpy())


def test_fractional_max_pool2d_draws_from_cnnlabs_generator():
    x = _distinct(np.random.default_rng(16), (2, 3, 10, 10))
    cnnlab.manual_seed(7)
    first, idx = P.fractional_max_pool2d(cnnlab.tensor(x), 2, output_size=6, return_indices=True)
    cnnlab.manual_seed(7)
    second = P.fractional_max_pool2d(cnnlab.tensor(x), 2, output_size=6)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    picked = np.take_along_axis(x.reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), axis=2).reshape(first.shape)
    np.testing.assert_array_equal(first.numpy(), picked)


# --------------------------------------------------------------------------------------- finite differences

GRADCHECK_CASES = {
    "max": lambda t: P.max_pool2d(t, 3, 2, 1, dilation=(1, 2), ceil_mode=True),
    "max_tiles": lambda t: P.max_pool2d(t, (2, 3)),
    "min": lambda t: P.min_pool2d(t, (3, 2), 1, (1, 0), ceil_mode=True),
    "avg": lambda t: P.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg_tiles": lambda t: P.avg_pool2d(t, (2, 3)),
    "lp": lambda t: P.lp_pool2d(t, 3.0, 2, 1, ceil_mode=True),
    "adaptive_avg": lambda t: P.adaptive_avg_pool2d(t, (4, 2)),
    "adaptive_max": lambda t: P.adaptive_max_pool2d(t, (4, 5)),
    "global_avg": P.global_avg_pool2d,
    "global_max": P.global_max_pool2d,
    "subsample": lambda t: P.subsample2d(t, 2, 1),
    "stochastic_inference": lambda t: P.stochastic_pool2d(t, 3, 1, training=False),
    "stochastic_training": lambda t: P.stochastic_pool2d(t, 2, generator=np.random.default_rng(3)),
    "fractional": lambda t: P.fractional_max_pool2d(t, 2, (4, 3), _random_samples=np.full((1, 2, 2), 0.37)),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(name):
    # Distinct values a good step apart (no arg-max flips under the finite-difference step), all positive
    # (the power and stochastic ops need it).
    x = np.random.default_rng(17).permutation(60).reshape(1, 2, 5, 6) / 10.0 + 0.5
    gradcheck(GRADCHECK_CASES[name], [x])


# --------------------------------------------------------------------------------------------------- errors

X = cnnlab.tensor(np.zeros((1, 1, 5, 5)))

ERRORS = [
    (lambda: P.max_pool2d(cnnlab.tensor(np.zeros((5, 5))), 2), ValueError,
     r"max_pool2d: `input` must be 3-D or 4-D .*Received a 2-D tensor of shape \(5, 5\)"),
    (lambda: P.avg_pool2d(cnnlab.tensor(np.zeros((1, 1, 5, 5), dtype=np.int64)), 2), TypeError,
     r"avg_pool2d: `input` must be a floating tensor"),
    (lambda: P.max_pool2d(cnnlab.tensor(np.zeros((1, 0, 5, 5))), 2), ValueError,
     r"max_pool2d: `input` must have non-zero channels.*\(1, 0, 5, 5\)"),
    (lambda: P.max_pool2d(X, 0), ValueError, r"max_pool2d: `kernel_size` must be a positive int.*kernel_size=0"),
    (lambda: P.avg_pool2d(X, 2, (0, 1)), ValueError, r"avg_pool2d: `stride` must be a positive int.*stride=\(0, 1\)"),
    (lambda: P.max_pool2d(X, 2, dilation=0), ValueError, r"max_pool2d: `dilation` must be a positive int.*dilation=0"),
    (lambda: P.max_pool2d(X, 2, padding=-1), ValueError,
     r"max_pool2d: `padding` must be a non-negative int.*padding=-1"),
    (lambda: P.max_pool2d(X, 3, padding=2), ValueError,
     r"max_pool2d: `padding` must be at most half of the kernel size \(kernel_size // 2\). "
     r"Received: padding=\(2, 2\) with kernel_size=\(3, 3\)"),
    (lambda: P.avg_pool2d(X, (2, 4), padding=(1, 3)), ValueError,
     r"avg_pool2d: `padding` must be at most half.*padding=\(1, 3\) with kernel_size=\(2, 4\)"),
    (lambda: P.min_pool2d(X, (2, 4), padding=(0, 3), dilation=2), ValueError,  # dilation does not widen it
     r"min_pool2d: `padding` must be at most half.*padding=\(0, 3\) with kernel_size=\(2, 4\)"),
    (lambda: P.max_pool2d(X, 6), ValueError,
     r"max_pool2d: output would be empty: input of size \(H, W\)=\(5, 5\) is smaller than the kernel "
     r"\(kernel_size=\(6, 6\)"),
    (lambda: P.max_pool2d(X, 3, dilation=3), ValueError,
     r"max_pool2d: output would be empty.*kernel_size=\(3, 3\), dilation=\(3, 3\), spanning \(7, 7\)"),
    (lambda: P.subsample2d(X, (2, 7)), ValueError, r"subsample2d: output would be empty.*kernel_size=\(2, 7\)"),
    (lambda: P.avg_pool2d(X, 2, divisor_override=0), ValueError,
     r"avg_pool2d: `divisor_override` must be None or a non-zero int. Received: divisor_override=0"),
    (lambda: P.lp_pool2d(X, 0, 2), ValueError, r"lp_pool2d: `norm_type` must be positive.*norm_type=0"),
    (lambda: P.lp_pool2d(X, -2.0, 2), ValueError, r"lp_pool2d: `norm_type` must be positive.*norm_type=-2.0"),
    (lambda: P.lp_pool2d(X, "2", 2), TypeError, r"lp_pool2d: `norm_type` must be a real number.*norm_type='2'"),
    (lambda: P.lp_pool2d(X, 2, 6), ValueError, r"lp_pool2d: output would be empty"),
    (lambda: P.adaptive_avg_pool2d(X, 0), ValueError,
     r"adaptive_avg_pool2d: `output_size` must be a positive int.*output_size=0"),
    (lambda: P.adaptive_max_pool2d(X, (2, 3, 4)), ValueError,
     r"adaptive_max_pool2d: `output_size` must be.*output_size=\(2, 3, 4\)"),
    (lambda: P.adaptive_max_pool2d(X, "a"), TypeError, r"adaptive_max_pool2d: `output_size`.*output_size='a'"),
    (lambda: P.fractional_max_pool2d(X, 2), ValueError,
     r"fractional_max_pool2d: give exactly one of `output_size` and `output_ratio`.*output_size=None"),
    (lambda: P.fractional_max_pool2d(X, 2, 3, 0.5), ValueError,
     r"fractional_max_pool2d: give exactly one of.*output_size=3, output_ratio=0.5"),
    (lambda: P.fractional_max_pool2d(X, 2, output_ratio=1.5), ValueError,
     r"fractional_max_pool2d: `output_ratio` must be .*strictly between 0 and 1. Received: output_ratio=1.5"),
    (lambda: P.fractional_max_pool2d(X, 2, output_ratio=(0.5, 0.0)), ValueError,
     r"fractional_max_pool2d: `output_ratio`.*output_ratio=\(0.5, 0.0\)"),
    (lambda: P.fractional_max_pool2d(X, 2, output_ratio=0.1), ValueError,
     r"fractional_max_pool2d: output would be empty: input of size \(H, W\)=\(5, 5\) times output_ratio=0.1"),
    (lambda: P.fractional_max_pool2d(X, 2, output_size=5), ValueError,
     r"fractional_max_pool2d: output height 5 with kernel height 2 needs an input height of at least .* = 6"),
    (lambda: P.fractional_max_pool2d(X, 2, output_size=3, _random_samples=np.zeros((1, 2, 2))), ValueError,
     r"fractional_max_pool2d: `_random_samples` must have shape \(N, C, 2\) = \(1, 1, 2\).*\(1, 2, 2\)"),
    (lambda: P.fractional_max_pool2d(X, 2, output_size=3, _random_samples=np.ones((1, 1, 2))), ValueError,
     r"fractional_max_pool2d: `_random_samples` must lie in \[0, 1\)"),
    (lambda: P.stochastic_pool2d(cnnlab.tensor(-np.ones((1, 1, 4, 4))), 2), ValueError,
     r"stochastic_pool2d: `input` must be non-negative .*minimum -1.0"),
    (lambda: P.stochastic_pool2d(X, 2, generator=3), TypeError,
     r"stochastic_pool2d: `generator` must be None or a numpy.random.Generator.*int"),
]


@pytest.mark.parametrize("call,error,match", ERRORS)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_float32_outputs_keep_their_dtype():
    x = cnnlab.tensor(np.random.default_rng(18).uniform(0.1, 1, (1, 2, 6, 6)).astype(np.float32))
    outs = [P.max_pool2d(x, 2), P.min_pool2d(x, 3, 1, 1), P.avg_pool2d(x, 3, 2, 1, True, False),
            P.lp_pool2d(x, 2, 2), P.adaptive_avg_pool2d(x, 4), P.adaptive_max_pool2d(x, 4),
            P.global_avg_pool2d(x), P.global_max_pool2d(x), P.subsample2d(x, 2),
            P.stochastic_pool2d(x, 2), P.stochastic_pool2d(x, 2, training=False),
            P.fractional_max_pool2d(x, 2, output_ratio=0.5)]
    for out in outs:
        assert out.dtype == np.float32
    assert_close(outs[2].numpy(), TF.avg_pool2d(torch.tensor(x.numpy()), 3, 2, 1, True, False).numpy(), "float32")


def test_empty_batch_passes_through():
    x = cnnlab.tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    for fn in (lambda t: P.max_pool2d(t, 2), lambda t: P.avg_pool2d(t, 3, 1, 1), lambda t: P.adaptive_max_pool2d(t, 3),
               lambda t: P.stochastic_pool2d(t, 2), lambda t: P.fractional_max_pool2d(t, 2, 3)):
        out = fn(x)
        out.backward(np.zeros(out.shape))
        assert out.shape[:2] == (0, 2) and x.grad.shape == (0, 2, 5, 5)
