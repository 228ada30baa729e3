"""Batch-norm kernels (and the fused BN + ReLU): compiled against reference against PyTorch.

Drawn shapes (N, C), (N, C, L) and (N, C, H, W) in both memory layouts, training and evaluation,
momentum, affine on and off; forward values, running statistics and the gradients of input, weight
and bias (random upstream gradient).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab import backend
from helpers import assert_close

KERNEL_SETS = ("reference", "compiled")
SETTINGS = settings(max_examples=40, derandomize=True, deadline=None, database=None)


@pytest.fixture(autouse=True)
def _restore_kernels():
    saved = backend.get_kernels()
    yield
    backend.set_kernels(saved)


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@st.composite
def shapes(draw):
    """(N, C, *) with at least 4 values per channel (fewer make the batch gradient pure round-off)."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    rest = draw(st.sampled_from([(), (draw(st.integers(1, 7)),), (draw(st.integers(1, 6)), draw(st.integers(1, 6)))]))
    if n * int(np.prod(rest)) < 4:
        n = 4
    return (n, c) + rest


def batch_norm_relu_torch(x, rm, rv, w, b, training, momentum, relu):
    out = TF.batch_norm(x, rm, rv, w, b, training, momentum, 1e-5)
    return torch.relu(out) if relu else out


@given(shapes(), st.booleans(), st.booleans(), st.booleans(), st.sampled_from([0.0, 0.1, 0.7]),
       st.booleans(), st.sampled_from(["float64", "float32"]), st.integers(0, 2**31 - 1))
@SETTINGS
def test_batch_norm_kernels_match_torch(shape, training, affine, relu, momentum, cl, dtype, seed):
    _check_batch_norm(shape, training, affine, relu, momentum, cl, dtype, seed)


@pytest.mark.parametrize("shape", [(4, 16, 4, 4), (8, 32, 2, 2), (64, 16), (2, 4, 4, 2), (3, 16, 1, 1),
                                   (2, 64, 2, 2)])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_norm_on_rows_seen_64_wide(shape, relu, dtype):
    """Channels-last rows of 16 or 32 channels run 64 values wide (``_rows.wide``: per-channel vectors
    repeated, sums folded back); 48 values, or 64 channels, stay as they are."""
    _check_batch_norm(shape, True, True, relu, 0.1, True, dtype, 7)


def _check_batch_norm(shape, training, affine, relu, momentum, cl, dtype, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    rm, rv = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.5).astype(dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ref = batch_norm_relu_torch(tx, trm, trv, tw if affine else None, tb if affine else None, training,
                                momentum, relu)
    g = rng.standard_normal(shape).astype(dtype)
    ref.backward(torch.tensor(g))
    layout = channels_last if cl and len(shape) == 4 else (lambda a: a)
    for name in KERNEL_SETS:
        backend.set_kernels(name)
        xs = cnnlab.tensor(layout(x), requires_grad=True)
        ws, bs = cnnlab.tensor(w, requires_grad=True), cnnlab.tensor(b, requires_grad=True)
        ms, vs = cnnlab.tensor(rm.copy()), cnnlab.tensor(rv.copy())
        op = F.batch_norm_relu if relu else F.batch_norm
        out = op(xs, ms, vs, ws if affine else None, bs if affine else None, training, momentum)
        out.backward(layout(g))
        assert_close(out.numpy(), ref.detach().numpy(), dtype, f"{name} forward")
        assert_close(ms.numpy(), trm.numpy(), dtype, f"{name} running_mean")
        assert_close(vs.numpy(), trv.numpy(), dtype, f"{name} running_var")
        assert_close(xs.grad.numpy(), tx.grad.numpy(), dtype, f"{name} input gradient")
        if affine:
            assert_close(ws.grad.numpy(), tw.grad.numpy(), dtype, f"{name} weight gradient")
            assert_close(bs.grad.numpy(), tb.grad.numpy(), dtype, f"{name} bias gradient")
        assert out._data.strides == xs._data.strides, f"{name}: output layout is not the input's"


@pytest.mark.parametrize("name", KERNEL_SETS)
def test_batch_norm_relu_keeps_nan_and_blocks_its_gradient(name):
    # ReLU passes NaN on (PyTorch's relu(nan) is nan) and passes no gradient where the output is not > 0.
    x = np.array([[1.0, 2.0], [3.0, -4.0], [np.nan, 0.5], [2.0, 1.0]])
    backend.set_kernels(name)
    xs = cnnlab.tensor(x, requires_grad=True)
    out = F.batch_norm_relu(xs, None, None, training=True)
    ref = torch.relu(TF.batch_norm(torch.tensor(x), None, None, training=True))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_update_running_stats_is_pytorchs_rule_and_skips_missing_statistics():
    """One rule for both kernel sets: the biased batch variance is tracked unbiased; None is skipped."""
    from cnnlab.kernels.reference.norm import update_running_stats

    mean, var = np.array([1.0, 2.0]), np.array([4.0, 8.0])          # batch statistics, var biased
    running_mean, running_var = np.zeros(2, np.float32), np.ones(2, np.float32)
    update_running_stats(running_mean, running_var, mean, var, count=5, momentum=0.25)
    assert_close(running_mean, 0.25 * mean)
    assert_close(running_var, 0.75 + 0.25 * var * 5 / 4)
    assert running_mean.dtype == running_var.dtype == np.float32
    kept = running_var.copy()
    update_running_stats(None, running_var, mean, var, count=5, momentum=0.0)   # no mean tracked
    assert_close(running_var, kept)


def test_wide_rows_view_and_fold():
    """16 channels are seen 4 to a 64-value row and their sums fold back; 48 values, a strided view or
    64+ channels stay as they are."""
    from cnnlab.kernels.compiled._rows import folded, wide

    rows = np.arange(8 * 16, dtype=np.float32).reshape(8, 16)
    (view,), reps = wide(rows)
    assert view.shape == (2, 64) and reps == 4 and np.shares_memory(view, rows)
    assert_close(folded(view.sum(axis=0, dtype=np.float64), reps), rows.sum(axis=0, dtype=np.float64))
    for narrow in (rows[:3], rows[::2, :], np.zeros((4, 64), np.float32), np.zeros((4, 6), np.float32)):
        assert wide(narrow)[1] == 1
