"""Every op that takes a dimension checks its range as PyTorch does (IndexError, PyTorch's words)."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab.validation import normalize_dim, normalize_dims

# (name, call on a module that is either torch or cnnlab, for an input of shape (2, 3))
CALLS = [
    ("cat", lambda m, x: m.cat([x, x], dim=2)),
    ("cat", lambda m, x: m.cat([x, x], dim=-3)),
    ("stack", lambda m, x: m.stack([x, x], dim=3)),
    ("stack", lambda m, x: m.stack([x, x], dim=-4)),
    ("transpose", lambda m, x: x.transpose(0, 2)),
    ("unsqueeze", lambda m, x: x.unsqueeze(7)),
    ("unsqueeze", lambda m, x: x.unsqueeze(-4)),
    ("squeeze", lambda m, x: x.squeeze(2)),
    ("flatten", lambda m, x: x.flatten(0, 2)),
    ("sum", lambda m, x: x.sum(dim=2)),
    ("mean", lambda m, x: x.mean(dim=(0, -3))),
    ("var", lambda m, x: x.var(dim=5)),
    ("max", lambda m, x: x.max(dim=2)),
    ("min", lambda m, x: x.min(dim=-3)),
    ("max", lambda m, x: x.amax(dim=2)),
    ("argmax", lambda m, x: x.argmax(dim=2)),
    ("argmin", lambda m, x: x.argmin(dim=-3)),
    ("softmax", lambda m, x: x.softmax(dim=2)),
    ("log_softmax", lambda m, x: x.log_softmax(dim=-3)),
    ("permute", lambda m, x: x.permute(0, 2)),
    ("size", lambda m, x: x.size(2)),
]


@pytest.mark.parametrize("name,call", CALLS)
def test_out_of_range_dims_raise_as_torch(name, call):
    with pytest.raises(IndexError) as theirs:
        call(torch, torch.zeros(2, 3))
    with pytest.raises(IndexError) as ours:
        call(cnnlab, cnnlab.zeros(2, 3))
    assert str(ours.value) == f"{name}: {theirs.value}"


def test_the_message_names_the_range():
    with pytest.raises(IndexError, match=r"^cat: Dimension out of range \(expected to be in range "
                                         r"of \[-2, 1\], but got 2\)$"):
        cnnlab.cat([cnnlab.zeros(2, 3)] * 2, dim=2)


def test_0d_tensors_take_dims_0_and_minus_1_as_torch():
    for name in ("sum", "mean", "amax", "softmax", "argmax"):
        for dim in (0, -1):
            theirs = getattr(torch.tensor(2.0), name)(dim=dim)
            ours = getattr(cnnlab.tensor(2.0), name)(dim=dim)
            assert ours.shape == tuple(theirs.shape) == ()
            np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert cnnlab.tensor(2.0).unsqueeze(-1).shape == (1,)
    assert cnnlab.tensor(2.0).squeeze(0).shape == ()
    assert cnnlab.tensor(2.0).flatten(0, -1).shape == (1,)
    with pytest.raises(IndexError, match=r"sum: Dimension out of range \(expected to be in range "
                                         r"of \[-1, 0\], but got 1\)"):
        cnnlab.tensor(2.0).sum(dim=1)


def test_cat_of_0d_tensors_raises_as_torch():
    with pytest.raises(RuntimeError, match="zero-dimensional tensor"):
        torch.cat([torch.tensor(1.0), torch.tensor(2.0)])
    with pytest.raises(ValueError, match=r"cat: zero-dimensional tensor \(at position 0\) cannot "
                                         r"be concatenated"):
        cnnlab.cat([cnnlab.tensor(1.0), cnnlab.tensor(2.0)])


def test_repeated_dims_are_refused():
    with pytest.raises(ValueError, match=r"sum: dim 0 appears multiple times in the list of dims. "
                                         r"Received: dim=\(0, -2\)"):
        cnnlab.zeros(2, 3).sum(dim=(0, -2))
    with pytest.raises(ValueError, match=r"permute: duplicate dims are not allowed"):
        F.permute(cnnlab.zeros(2, 3), (0, -2))


def test_helper():
    assert normalize_dim("f", -1, 3) == 2
    assert normalize_dim("f", 0, 0) == 0
    assert normalize_dims("f", (-1, 0), 2) == (0, 1)
    with pytest.raises(TypeError, match=r"f: `dim` must be an int. Received: dim=1.5"):
        normalize_dim("f", 1.5, 3)
    with pytest.raises(TypeError, match=r"f: `dim` must be an int. Received: dim=True"):
        normalize_dim("f", True, 3)
    with pytest.raises(IndexError, match=r"f: Dimension out of range \(expected to be in range of "
                                         r"\[-3, 2\], but got 3\)"):
        normalize_dim("f", 3, 3)
