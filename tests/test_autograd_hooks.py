"""Gradient hooks and end-of-backward callbacks against PyTorch's: ``register_hook``,
``register_post_accumulate_grad_hook`` and ``queue_callback`` (what data-parallel overlap rests
on)."""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn
from cnnlab.autograd import queue_callback
from cnnlab.tensor import Tensor


def _pair(rng, shape):
    a = rng.standard_normal(shape)
    return Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)


def test_hooks_see_what_pytorchs_see_in_the_same_order(rng):
    """A leaf used three times (twice by one op): its hooks run once per backward pass with the
    summed gradient; a register_hook's returned gradient replaces it, on a leaf and inside the
    graph; a second backward pass accumulates and calls the post-accumulate hook again."""
    logs = []
    x, xt = _pair(rng, (3, 4))
    w, wt = _pair(rng, (4,))
    g = rng.standard_normal((3, 4))
    for x_, w_, log, wrap in ((x, w, [], Tensor), (xt, wt, [], torch.tensor)):
        x_.register_hook(lambda grad, log=log: log.append(("x", grad.data.tolist()
                                                             if isinstance(grad, Tensor)
                                                             else grad.tolist())) or grad * 3)
        w_.register_post_accumulate_grad_hook(
            lambda t, log=log: log.append(("w", np.asarray(t.grad.data if isinstance(t, Tensor)
                                                            else t.grad).tolist())))
        for _ in range(2):
            h = x_ * w_ + w_ * w_            # w reaches the loss through three edges
            h.register_hook(lambda grad: grad * 0.5)
            (h * wrap(g)).sum().backward()
        logs.append(log)
    ours, theirs = logs
    assert [k for k, _ in ours] == [k for k, _ in theirs] == ["x", "w", "x", "w"]
    for (_, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-12)


def test_a_removed_hook_is_not_called_and_the_hooked_walk_gives_the_same_gradients(rng):
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    ref = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    ref.load_state_dict(net.state_dict())
    calls = []
    handles = [p.register_post_accumulate_grad_hook(lambda p: calls.append(p.shape))
               for p in net.parameters()]
    x = Tensor(rng.standard_normal((6, 5)).astype(np.float32))
    for model in (net, ref):
        model(x).sum().backward()
    # Backward reaches the last layer first: its weight and bias are final before the first's.
    assert calls == [(3, 4), (3,), (4, 5), (4,)]
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.grad.data, b.grad.data)
    for h in handles:
        h.remove()
    net(x).sum().backward()
    assert len(calls) == 4


def test_queue_callback_runs_once_after_every_gradient_is_accumulated(rng):
    w, _ = _pair(rng, (3,))
    b, _ = _pair(rng, (3,))
    seen = []

    def hook(t):
        seen.append("hook")
        queue_callback(lambda: seen.append(("end", w.grad is not None and b.grad is not None)))

    w.register_post_accumulate_grad_hook(hook)
    ((w * 2).sum() + (b * w).sum()).backward()
    assert seen == ["hook", ("end", True)]
    with pytest.raises(RuntimeError, match="queue_callback: no backward pass is running"):
        queue_callback(lambda: None)
    assert cnnlab.autograd.queue_callback is queue_callback


def test_hooks_refuse_what_pytorch_refuses():
    x = Tensor(np.ones(2))
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor "
                                           "that does not require a gradient"):
        x.register_hook(lambda g: g)
    y = Tensor(np.ones(2), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="post-accumulate hooks can only be registered on leaf"):
        y.register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="`hook` must be callable. Received int"):
        Tensor(np.ones(2), requires_grad=True).register_hook(3)
