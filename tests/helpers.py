"""Shared test helpers: PyTorch as the oracle, finite differences where PyTorch has no twin."""

import numpy as np

import cnnlab
from cnnlab import backend

TOLERANCE = {"float64": 1e-8, "float32": 1e-4}
DEVICE = "cpu"  # where the helpers put cnnlab inputs; conftest's ``device`` fixture sets it


def assert_close(actual, expected, dtype="float64", what="value"):
    """Agree to the dtype's relative tolerance, scaled by the reference's magnitude."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    tol = TOLERANCE[str(dtype)]
    scale = max(float(np.abs(expected).max()) if expected.size else 0.0, 1.0)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


def _to_torch(torch, a, dtype, rg):
    if np.issubdtype(a.dtype, np.floating):
        return torch.tensor(a.astype(dtype), requires_grad=rg)
    return torch.tensor(a)


def _to_ours(a, dtype, rg):
    if np.issubdtype(a.dtype, np.floating):
        return cnnlab.tensor(backend.to_device(a.astype(dtype), DEVICE), requires_grad=rg)
    return cnnlab.tensor(backend.to_device(a, DEVICE))


def check_against_torch(our_fn, torch_fn, arrays, dtypes=("float64", "float32"), grad=None, seed=0):
    """Compare forward values and every input gradient of ``our_fn`` with ``torch_fn``.

    ``arrays`` are NumPy inputs (floating ones get gradients; integer ones, such as labels, do not).
    ``grad`` lists which inputs need a gradient (default: every floating input). The upstream
    gradient is random: an all-ones gradient would hide transposition bugs.
    """
    import torch

    rng = np.random.default_rng(seed)
    if grad is None:
        grad = [np.issubdtype(np.asarray(a).dtype, np.floating) for a in arrays]
    arrays = [np.asarray(a) for a in arrays]
    for dtype in dtypes:
        ours = [_to_ours(a, dtype, rg) for a, rg in zip(arrays, grad)]
        theirs = [_to_torch(torch, a, dtype, rg) for a, rg in zip(arrays, grad)]
        out = our_fn(*ours)
        ref = torch_fn(*theirs)
        assert_close(out.numpy(), ref.detach().numpy(), dtype, "forward")
        assert out.dtype == np.dtype(dtype), f"output dtype {out.dtype} != {dtype}"
        if not any(grad):
            continue
        g = rng.standard_normal(ref.shape)
        out.backward(g.astype(dtype))
        ref.backward(torch.tensor(g.astype(dtype)))
        for i, (o, t) in enumerate(zip(ours, theirs)):
            if not grad[i]:
                continue
            assert o.grad is not None, f"input {i} got no gradient"
            assert_close(o.grad.numpy(), t.grad.numpy(), dtype, f"gradient of input {i}")


def numerical_grad(fn, arrays, upstream, eps=1e-6):
    """Central differences of ``sum(fn(*arrays) * upstream)`` with respect to each array (float64)."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        flat = a.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = float((fn(*arrays) * upstream).sum())
            flat[i] = old - eps
            minus = float((fn(*arrays) * upstream).sum())
            flat[i] = old
            g.reshape(-1)[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def gradcheck(our_fn, arrays, seed=0, eps=1e-6, tol=1e-6):
    """Finite-difference check of every input gradient of ``our_fn`` in float64.

    ``our_fn`` takes Tensors and returns a Tensor; the same function is evaluated on constant tensors
    for the differences, so no second implementation is involved.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    inputs = [cnnlab.tensor(backend.to_device(a, DEVICE), requires_grad=True) for a in arrays]
    out = our_fn(*inputs)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)

    def value(*arrs):
        with cnnlab.no_grad():
            return our_fn(*[cnnlab.tensor(backend.to_device(a, DEVICE)) for a in arrs]).numpy()

    expected = numerical_grad(value, arrays, upstream, eps)
    for i, (t, e) in enumerate(zip(inputs, expected)):
        np.testing.assert_allclose(t.grad.numpy(), e, rtol=tol, atol=tol, err_msg=f"gradient of input {i}")


def train_on_scenes(tmp_path_factory, model, scenes, *args):
    """One tiny ``cnnlab train --model MODEL --dataset mnist-scenes ... ARGS`` run, with ``scenes``
    (``{True: train, False: test}``) as the dataset's sizes: (exit code, run folder, what it printed).

    Skips the test where ``CNNLAB_DATA`` does not hold the MNIST files.
    """
    import contextlib
    import io
    import os

    import pytest

    from cnnlab.cli import main
    from cnnlab.data import scenes as scenes_module

    root = os.environ.get("CNNLAB_DATA")
    if not root or not os.path.isdir(os.path.join(root, "mnist")):
        pytest.skip("CNNLAB_DATA does not hold the MNIST files")
    out = tmp_path_factory.mktemp(model)
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setattr(scenes_module, "DEFAULT_SCENES", scenes)
        code = main(["train", "--model", model, "--dataset", "mnist-scenes", "--epochs", "1",
                     "--out", str(out), "--no-progress", "--data-dir", root, *args])
    return code, out, printed.getvalue()
