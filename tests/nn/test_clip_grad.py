"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils on the same gradients."""

import math

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn


def _twins(rng, scale, dtype="float64"):
    shapes = [(3, 4), (5,), (2, 2, 3)]
    grads = [rng.standard_normal(s).astype(dtype) * scale for s in shapes]
    ours = [cnnlab.tensor(np.zeros(s, dtype), requires_grad=True) for s in shapes]
    theirs = [torch.zeros(s, dtype=getattr(torch, dtype), requires_grad=True) for s in shapes]
    for o, t, g in zip(ours, theirs, grads):
        o.grad = cnnlab.tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf])
@pytest.mark.parametrize("scale,max_norm", [(1.0, 0.5), (0.01, 10.0)])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-8), ("float32", 1e-4)])
def test_clip_grad_norm_matches_torch(rng, norm_type, scale, max_norm, dtype, tol):
    ours, theirs = _twins(rng, scale, dtype)
    total = nn.utils.clip_grad_norm_(iter(ours), max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, cnnlab.Tensor) and total.shape == () and total.dtype == np.dtype(dtype)
    np.testing.assert_allclose(float(total), float(ref), rtol=tol)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def test_clip_grad_norm_single_tensor_skips_missing_grads_and_handles_none(rng):
    w = cnnlab.tensor(np.zeros(3), requires_grad=True)
    assert float(nn.utils.clip_grad_norm_(w, 1.0)) == 0.0 == float(torch.nn.utils.clip_grad_norm_(
        torch.zeros(3, requires_grad=True), 1.0))
    w.grad = cnnlab.tensor(np.array([3.0, 4.0, 0.0]))
    b = cnnlab.tensor(np.zeros(2), requires_grad=True)  # no gradient: skipped
    assert float(nn.utils.clip_grad_norm_([w, b], 1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-6)


def test_clip_grad_norm_nonfinite():
    w = cnnlab.tensor(np.zeros(2), requires_grad=True)
    w.grad = cnnlab.tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm of order 2.0 of the "
                                           r"gradients is inf, "
                                           r"so it cannot be clipped"):
        nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor([np.inf, 1.0], dtype=torch.float64)
    assert math.isinf(float(nn.utils.clip_grad_norm_([w], 1.0))) and math.isinf(
        float(torch.nn.utils.clip_grad_norm_([t], 1.0)))
    np.testing.assert_array_equal(np.isnan(w.grad.numpy()), np.isnan(t.grad.numpy()))


def test_clip_grad_norm_errors():
    w = cnnlab.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"clip_grad_norm_: `parameters` must hold Tensors. "
                                        r"Received an object of "
                                        r"type str at position 0"):
        nn.utils.clip_grad_norm_(["w"], 1.0)
    with pytest.raises(TypeError, match=r"clip_grad_norm_: `parameters` must be a Tensor or an "
                                        r"iterable of "
                                        r"Tensors. Received an object of type float"):
        nn.utils.clip_grad_norm_(1.0, 1.0)
    with pytest.raises(TypeError, match=r"clip_grad_norm_: `max_norm` must be a real number. "
                                        r"Received: "
                                        r"max_norm='1'"):
        nn.utils.clip_grad_norm_([w], "1")
    with pytest.raises(ValueError, match=r"clip_grad_norm_: `norm_type` must be > 0. "
                                         r"Received: norm_type=0.0"):
        nn.utils.clip_grad_norm_([w], 1.0, norm_type=0)


@pytest.mark.parametrize("clip", [0.1, 1.0])
def test_clip_grad_value_matches_torch(rng, clip):
    ours, theirs = _twins(rng, 1.0)
    assert nn.utils.clip_grad_value_(ours, clip) is None
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
    with pytest.raises(ValueError, match=r"clip_grad_value_: `clip_value` must be >= 0. "
                                         r"Received: clip_value=-1"):
        nn.utils.clip_grad_value_(ours, -1)
