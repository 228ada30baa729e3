"""Max and average pooling kernels: compiled against reference against PyTorch, on drawn shapes.

Every example runs ``F.max_pool2d``/``F.avg_pool2d`` with each kernel set and compares the output, the
indices and the input gradient (random upstream gradient) with PyTorch's, then holds the compiled
kernel's winning taps equal to the reference's. Shapes cover kernel 1-5, stride 1-3, padding,
dilation, ceil_mode, batch 1, odd sizes and both memory layouts; values include ties, NaN and -inf.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab import backend, kernels
from cnnlab.kernels import reference
from helpers import assert_close

KERNEL_SETS = ("reference", "compiled")
SETTINGS = settings(max_examples=40, derandomize=True, deadline=None, database=None)


@pytest.fixture(autouse=True)
def _restore_kernels():
    saved = backend.get_kernels()
    yield
    backend.set_kernels(saved)


def channels_last(a):
    """The same values as (N, C, H, W) ``a``, stored as (N, H, W, C)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@st.composite
def windows(draw, dilation=True):
    """(shape, kernel, stride, padding, dilation, ceil_mode) for which at least one window fits."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    h = max(dh * (kh - 1) + 1 - 2 * ph, 1) + draw(st.integers(0, 6))
    w = max(dw * (kw - 1) + 1 - 2 * pw, 1) + draw(st.integers(0, 6))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), h, w)
    return shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw), draw(st.booleans())


def values(rng, shape, kind, dtype):
    """Random values: distinct, tied (a few integers), or with NaN and -inf sprinkled in."""
    if kind == "ties":
        return rng.integers(0, 3, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "special":
        x[rng.random(shape) < 0.05] = np.nan
        x[rng.random(shape) < 0.2] = -np.inf
    return x


def run_ours(fn, x, g, layout):
    """Output, extra outputs and input gradient of ``fn`` on ``x`` in ``layout``, upstream gradient ``g``."""
    data = channels_last(x) if layout == "channels_last" else x
    t = cnnlab.tensor(data, requires_grad=True)
    result = fn(t)
    out, extra = (result[0], result[1]) if isinstance(result, tuple) else (result, None)
    out.backward(channels_last(g) if layout == "channels_last" else g)
    return out.data, extra, t.grad.numpy()


@given(windows(), st.sampled_from(["distinct", "ties", "special"]), st.sampled_from(["nchw", "channels_last"]),
       st.sampled_from(["float64", "float32"]), st.integers(0, 2**31 - 1))
@SETTINGS
def test_max_pool2d_kernels_match_torch(case, kind, layout, dtype, seed):
    shape, kernel, stride, padding, dilation, ceil = case
    rng = np.random.default_rng(seed)
    x = values(rng, shape, kind, dtype)
    args = (kernel, stride, padding, dilation, ceil)
    ref, ref_idx = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
    xt = torch.tensor(x, requires_grad=True)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    TF.max_pool2d(xt, *args).backward(torch.tensor(g))
    for name in KERNEL_SETS:
        backend.set_kernels(name)
        out, idx, gx = run_ours(lambda t: F.max_pool2d(t, *args, return_indices=True), x, g, layout)
        np.testing.assert_array_equal(out, ref.numpy(), err_msg=f"{name} forward")
        np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy(), err_msg=f"{name} indices")
        assert_close(gx, xt.grad.numpy(), dtype, f"{name} input gradient")


@given(windows(), st.sampled_from(["distinct", "ties", "special"]), st.sampled_from(["nchw", "channels_last"]),
       st.sampled_from(["float64", "float32"]), st.integers(0, 2**31 - 1))
@SETTINGS
def test_compiled_max_pool_taps_equal_the_reference(case, kind, layout, dtype, seed):
    shape, kernel, stride, padding, dilation, ceil = case
    x = values(np.random.default_rng(seed), shape, kind, dtype)
    x = channels_last(x) if layout == "channels_last" else x
    out_size = tuple(F.pool_output_size(*axis, ceil) for axis in zip(shape[2:], kernel, stride, padding, dilation))
    backend.set_kernels("compiled")
    compiled = kernels.for_arrays(x)
    args = (kernel, stride, padding, dilation, out_size)
    out, taps = compiled.max_pool2d_forward(x, *args)
    ref_out, ref_taps = reference.max_pool2d_forward(x, *args)
    assert taps.dtype == np.uint8
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(taps, ref_taps)


@given(windows(dilation=False), st.booleans(), st.sampled_from([None, 1, 3]),
       st.sampled_from(["nchw", "channels_last"]), st.sampled_from(["float64", "float32"]), st.integers(0, 2**31 - 1))
@SETTINGS
def test_avg_pool2d_kernels_match_torch(case, include_pad, override, layout, dtype, seed):
    shape, kernel, stride, padding, _, ceil = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    args = (kernel, stride, padding, ceil, include_pad, override)
    xt = torch.tensor(x, requires_grad=True)
    ref = TF.avg_pool2d(xt, *args)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(g))
    for name in KERNEL_SETS:
        backend.set_kernels(name)
        out, _, gx = run_ours(lambda t: F.avg_pool2d(t, *args), x, g, layout)
        assert_close(out, ref.detach().numpy(), dtype, f"{name} forward")
        assert_close(gx, xt.grad.numpy(), dtype, f"{name} input gradient")


@pytest.mark.parametrize("name", KERNEL_SETS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_global_avg_pool_runs_the_avg_kernels(name, layout, rng):
    x = rng.standard_normal((3, 6, 5, 7))
    g = rng.standard_normal((3, 6, 1, 1))
    backend.set_kernels(name)
    out, _, gx = run_ours(F.global_avg_pool2d, x, g, layout)
    xt = torch.tensor(x, requires_grad=True)
    ref = TF.adaptive_avg_pool2d(xt, 1)
    ref.backward(torch.tensor(g))
    assert_close(out, ref.detach().numpy())
    assert_close(gx, xt.grad.numpy())


@pytest.mark.parametrize("name", KERNEL_SETS)
def test_min_pool_is_max_pool_of_the_negation(name, rng):
    x = rng.integers(0, 3, (2, 3, 7, 6)).astype(np.float64)
    x[0, 0, 0, 0] = np.nan
    backend.set_kernels(name)
    out, idx = F.min_pool2d(cnnlab.tensor(x), 3, 2, 1, return_indices=True)
    ref, ref_idx = TF.max_pool2d(-torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), -ref.numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


def test_large_windows_take_the_reference_kernel(rng):
    # kH * kW > 256 does not fit a uint8 tap: the compiled namespace hands the op to the reference.
    x = rng.standard_normal((1, 2, 17, 17))
    backend.set_kernels("compiled")
    xt = torch.tensor(x, requires_grad=True)
    ref = TF.max_pool2d(xt, 17)
    out, _, gx = run_ours(lambda t: F.max_pool2d(t, 17), x, np.ones((1, 2, 1, 1)), "nchw")
    ref.backward(torch.ones(1, 2, 1, 1, dtype=torch.float64))
    np.testing.assert_array_equal(out, ref.detach().numpy())
    np.testing.assert_array_equal(gx, xt.grad.numpy())


@pytest.mark.parametrize("shape,ceil,pairs", [
    ((2, 3, 8, 10), False, True),          # the windows tile the input
    ((3, 5, 7, 9), False, True),           # an odd last row and column lie in no window
    ((1, 17, 2, 2), True, True),           # one window, many channels
    ((2, 4, 7, 6), True, False),           # ceil_mode: the last window hangs over, the general loops
])
@pytest.mark.parametrize("kind", ["distinct", "ties", "special"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_by_two_stride_two_kernels_match_torch_and_the_general_loops(monkeypatch, shape, ceil, pairs, kind,
                                                                         layout, dtype):
    """The written-out 2x2 stride-2 kernels run when every window lies inside the input, and agree with
    PyTorch (values, indices, gradient: ties, NaN, -inf) and with the general loops' taps."""
    from cnnlab.kernels.compiled import pool

    ran = []
    for name in ("_max_pairs_forward_planes", "_max_pairs_forward_nhwc", "_max_pairs_backward_planes",
                 "_max_pairs_backward_nhwc"):
        fast = getattr(pool, name)
        monkeypatch.setattr(pool, name, lambda *a, fast=fast, name=name: (ran.append(name), fast(*a)))
    rng = np.random.default_rng(shape[1])
    x = values(rng, shape, kind, dtype)
    xt = torch.tensor(x, requires_grad=True)
    ref, ref_idx = TF.max_pool2d(xt, 2, 2, ceil_mode=ceil, return_indices=True)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(g))
    backend.set_kernels("compiled")
    out, idx, gx = run_ours(lambda t: F.max_pool2d(t, 2, 2, ceil_mode=ceil, return_indices=True), x, g, layout)
    np.testing.assert_array_equal(out, ref.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    np.testing.assert_array_equal(gx, xt.grad.numpy())
    assert len(ran) == (2 if pairs else 0)
    data = channels_last(x) if layout == "channels_last" else x
    taps = kernels.for_arrays(data).max_pool2d_forward(data, (2, 2), (2, 2), (0, 0), (1, 1), ref.shape[2:])[1]
    general = pool._max_forward_nhwc if layout == "channels_last" else pool._max_forward_planes
    inner = pool._inner(data)
    want = pool._new(inner, ref.shape, np.uint8)
    general(inner, 2, 2, 2, 2, 0, 0, 1, 1, pool._no_divisor(ref.shape[2:], data.dtype),
            pool._new(inner, ref.shape, data.dtype), want)
    np.testing.assert_array_equal(taps, pool._outer(want, ref.shape))
