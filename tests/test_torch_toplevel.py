"""PyTorch's top-level op names that programs call directly (``torch.softmax(x, 1)``, ``torch.mm``, ...),
each against torch: values and gradients in float64 and float32, and the errors of mm/bmm."""

import numpy as np
import pytest

import cnnlab
from helpers import check_against_torch

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5))
M = rng.standard_normal((4, 5))

CASES = {
    "softmax": (lambda a: cnnlab.softmax(a, 1), lambda t, a: t.softmax(a, 1), [X]),
    "log_softmax": (lambda a: cnnlab.log_softmax(a, -1), lambda t, a: t.log_softmax(a, -1), [X]),
    "relu": (cnnlab.relu, lambda t, a: t.relu(a), [X]),
    "sigmoid": (cnnlab.sigmoid, lambda t, a: t.sigmoid(a), [X]),
    "tanh": (cnnlab.tanh, lambda t, a: t.tanh(a), [X]),
    "reshape": (lambda a: cnnlab.reshape(a, (5, -1)), lambda t, a: t.reshape(a, (5, -1)), [X]),
    "transpose": (lambda a: cnnlab.transpose(a, 0, 2), lambda t, a: t.transpose(a, 0, 2), [X]),
    "permute": (lambda a: cnnlab.permute(a, (2, 0, 1)), lambda t, a: t.permute(a, (2, 0, 1)), [X]),
    "squeeze": (lambda a: cnnlab.squeeze(a, 1), lambda t, a: t.squeeze(a, 1),
                [rng.standard_normal((3, 1, 2))]),
    "unsqueeze": (lambda a: cnnlab.unsqueeze(a, -1), lambda t, a: t.unsqueeze(a, -1), [M]),
    "concat": (lambda a, b: cnnlab.concat([a, b], 1), lambda t, a, b: t.concat([a, b], 1), [M, M]),
    "concatenate": (lambda a, b: cnnlab.concatenate([a, b]), lambda t, a, b: t.concatenate([a, b]),
                    [M, M]),
    "clip": (lambda a: cnnlab.clip(a, -0.5, 0.5), lambda t, a: t.clip(a, -0.5, 0.5), [X]),
    "mm": (cnnlab.mm, lambda t, a, b: t.mm(a, b), [M, M.T.copy()]),
    "bmm": (cnnlab.bmm, lambda t, a, b: t.bmm(a, b), [X, X.transpose(0, 2, 1).copy()]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_top_level_op_matches_torch(name):
    import torch

    ours, theirs, arrays = CASES[name]
    check_against_torch(ours, lambda *a: theirs(torch, *a), arrays)


@pytest.mark.parametrize("fn,a,b,message", [
    ("mm", (2, 3, 4), (4, 2), "mm: expects two 2-D tensors"),
    ("bmm", (2, 3), (3, 2), "bmm: expects two 3-D tensors"),
    ("bmm", (2, 3, 4), (3, 4, 2), "bmm: the batch sizes differ: 2 and 3"),
])
def test_mm_and_bmm_refuse_other_shapes_as_torch_does(fn, a, b, message):
    import torch

    x, y = np.zeros(a), np.zeros(b)
    with pytest.raises(RuntimeError):
        getattr(torch, fn)(torch.tensor(x), torch.tensor(y))
    with pytest.raises(RuntimeError, match=message):
        getattr(cnnlab, fn)(cnnlab.tensor(x), cnnlab.tensor(y))


@pytest.mark.parametrize("name,symbol", [("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"),
                                         ("ge", ">=")])
def test_top_level_comparisons_are_the_operators_under_torchs_signature(name, symbol):
    import inspect

    import torch

    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
    ours = getattr(cnnlab, name)(input=cnnlab.tensor(a), other=cnnlab.tensor(b))
    np.testing.assert_array_equal(ours.numpy(), getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
    np.testing.assert_array_equal(getattr(cnnlab, name)(cnnlab.tensor(a), 2.0).numpy(),
                                  eval(f"a {symbol} 2.0"))
    fn = getattr(cnnlab, name)
    assert fn.__name__ == name and symbol in fn.__doc__
    assert list(inspect.signature(fn).parameters) == ["input", "other"]


@pytest.mark.parametrize("name", ["abs", "sqrt", "relu", "sigmoid", "tanh"])
def test_top_level_one_tensor_ops_take_input_alone(name):
    import inspect

    import torch

    fn = getattr(cnnlab, name)
    assert fn.__name__ == name and list(inspect.signature(fn).parameters) == ["input"]
    check_against_torch(lambda x: fn(input=x), lambda x: getattr(torch, name)(x), [np.abs(X) + 0.1])
