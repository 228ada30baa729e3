"""Element-wise, reduction and shape ops against PyTorch (forward and every gradient)."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from helpers import check_against_torch, gradcheck

R = np.random.default_rng(1)

BINARY_SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((5, 1, 1), (1, 6, 2))]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES)
def test_binary_ops_with_broadcasting(op, shapes):
    a = R.uniform(0.5, 2.0, shapes[0])
    b = R.uniform(0.5, 2.0, shapes[1])
    ours = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
            "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}[op]
    check_against_torch(ours, ours, [a, b])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "neg"])
def test_unary_ops(name):
    a = R.uniform(0.2, 3.0, (3, 5)) * (1 if name in ("log", "sqrt") else R.choice([-1, 1], (3, 5)))
    ours = {"exp": lambda x: x.exp(), "log": lambda x: x.log(), "sqrt": lambda x: x.sqrt(),
            "abs": lambda x: x.abs(), "neg": lambda x: -x}[name]
    check_against_torch(ours, ours, [a])


def test_clamp():
    a = R.standard_normal((4, 5))
    check_against_torch(lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), [a])


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
                                   ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4,))])
def test_matmul(sa, sb):
    check_against_torch(lambda x, y: x @ y, lambda x, y: x @ y, [R.standard_normal(sa), R.standard_normal(sb)])


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
def test_reductions(name, axis, keep):
    a = R.permutation(60).reshape(3, 4, 5).astype(float) / 7.0  # distinct values: unambiguous max/min
    method = {"max": "amax", "min": "amin"}.get(name, name)  # max(dim)/min(dim) return (values, indices)
    ours = lambda x: getattr(x, method)(axis, keep)  # noqa: E731

    def theirs(x):
        dim = tuple(range(x.ndim)) if axis is None else axis
        if name == "max":
            return torch.amax(x, dim=dim, keepdim=keep)
        if name == "min":
            return torch.amin(x, dim=dim, keepdim=keep)
        if name == "var":
            return torch.var(x, dim=dim, keepdim=keep)
        return getattr(torch, name)(x, dim=dim, keepdim=keep)

    check_against_torch(ours, theirs, [a])


def test_max_with_ties_splits_the_gradient_like_amax():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    check_against_torch(lambda x: x.amax(1), lambda x: torch.amax(x, 1), [a])


def test_reshape_permute_transpose_flatten():
    a = R.standard_normal((2, 3, 4, 5))
    check_against_torch(lambda x: x.reshape(6, 20), lambda x: x.reshape(6, 20), [a])
    check_against_torch(lambda x: x.permute(2, 0, 3, 1), lambda x: x.permute(2, 0, 3, 1), [a])
    check_against_torch(lambda x: x.transpose(1, 3), lambda x: x.transpose(1, 3), [a])
    check_against_torch(lambda x: F.flatten(x), lambda x: torch.flatten(x, 1), [a])
    check_against_torch(lambda x: x.T, lambda x: x.permute(3, 2, 1, 0), [a])
    check_against_torch(lambda x: x.unsqueeze(1).squeeze(1), lambda x: x.unsqueeze(1).squeeze(1), [a])


@pytest.mark.parametrize("index", [
    (slice(None), 1), (0, slice(1, 3)), (Ellipsis, 1), (slice(None, None, 2),), (None, 1),
    ([0, 0, 2],), (np.array([1, 1, 0]), np.array([2, 2, 3])), (slice(None), [3, 3, 0]),
])
def test_indexing(index):
    a = R.standard_normal((3, 4, 2))
    check_against_torch(lambda x: x[index], lambda x: x[index], [a])


def test_boolean_mask_indexing():
    a = R.standard_normal((4, 3))
    mask = a > 0
    check_against_torch(lambda x: x[mask], lambda x: x[torch.tensor(mask)], [a])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    a, b = R.standard_normal((2, 3, 2)), R.standard_normal((2, 3, 2))
    check_against_torch(lambda x, y: F.cat([x, y], dim), lambda x, y: torch.cat([x, y], dim), [a, b])
    check_against_torch(lambda x, y: F.stack([x, y], dim), lambda x, y: torch.stack([x, y], dim), [a, b])


def test_cat_gradient_only_where_needed():
    a = cnnlab.tensor(np.ones((1, 2)), requires_grad=True)
    b = cnnlab.tensor(np.ones((1, 3)))
    F.cat([a, b], 1).sum().backward()
    assert a.grad.shape == (1, 2) and b.grad is None


def test_finite_differences_through_a_composite_expression():
    def f(x, y):
        return ((x @ y).exp().sum(1, keepdims=True) / (y * y).mean()).log() + x[:, :1] ** 3

    gradcheck(f, [R.standard_normal((3, 4)) * 0.3, R.standard_normal((4, 2)) * 0.3])


def test_error_messages():
    a = cnnlab.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: \(2, 3\) @ \(2, 3\)"):
        a @ a
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        a + cnnlab.tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\)"):
        F.cat([a, cnnlab.tensor(np.zeros((2, 4)))], 0)
    with pytest.raises(ValueError, match=r"stack: every tensor must have shape \(2, 3\)"):
        F.stack([a, cnnlab.tensor(np.zeros((3, 2)))])
    with pytest.raises(IndexError, match=r"sum: Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got 2\)"):
        a.sum(2)
    with pytest.raises(ValueError, match="permute: duplicate dims are not allowed"):
        a.permute(0, 0)
    with pytest.raises(TypeError, match="operands must be tensors, arrays or numbers"):
        a + "x"
    with pytest.raises(IndexError, match=r"does not fit a tensor of shape \(2, 3\)"):
        a[5]
