"""The inference fold of a batch norm (and ReLU) into the convolution's output write
(``conv2d_batch_norm_forward``): in the compiled set, the very values of the convolution then the batch
norm, through every formulation and path of the forward; in both sets, PyTorch's values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlab.kernels import compiled, reference
from cnnlab.kernels.compiled.conv import columns, plan
from helpers import assert_close

# (x shape, weight shape, stride, padding, groups, the forward's plan for 2 threads)
CASES = [
    ((2, 16, 12, 12), (64, 16, 3, 3), 1, 1, 1, ("columns", "tiles")),
    ((1, 3, 30, 30), (64, 3, 7, 7), 2, 3, 1, ("columns", "tiles")),
    ((2, 16, 9, 9), (24, 16, 3, 3), 1, 1, 1, ("columns", "gemm")),
    ((2, 32, 14, 14), (96, 8, 3, 3), 2, 1, 4, ("columns", "gemm")),
    ((1, 64, 5, 5), (512, 64, 3, 3), 1, 1, 1, ("pixels", "pixels")),
    ((1, 64, 10, 10), (512, 64, 3, 3), 2, 1, 1, ("pixels", "pixels")),
    ((3, 6, 12, 12), (4, 6, 5, 5), 1, 2, 1, ("direct", "direct")),
    ((2, 8, 10, 10), (8, 1, 3, 3), 1, 1, 8, ("depthwise", "depthwise")),
]


def _batch_norm_arrays(rng, o, dtype):
    return (rng.standard_normal(o).astype(dtype), rng.standard_normal(o).astype(dtype),       # weight, bias
            rng.standard_normal(o).astype(dtype), rng.uniform(0.5, 2.0, o).astype(dtype))    # running stats


@pytest.mark.parametrize("x_shape,w_shape,stride,pad,groups,expected", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_the_fold_writes_the_values_of_the_two_ops(x_shape, w_shape, stride, pad, groups, expected, dtype,
                                                  relu, with_bias, rng, monkeypatch):
    monkeypatch.setattr(columns, "num_threads", lambda: 2)
    if dtype == np.float32:
        assert tuple(plan.choose("forward", x_shape, w_shape, (stride,) * 2, groups, dtype, 2)) == expected
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (rng.standard_normal(w_shape) * 0.2).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if with_bias else None
    bn_w, bn_b, mean, var = _batch_norm_arrays(rng, w_shape[0], dtype)
    args = (((pad, pad), (pad, pad)), (stride, stride), (1, 1), groups)
    folded = compiled.conv2d_batch_norm_forward(x, w, b, *args, bn_w, bn_b, mean, var, 1e-5, relu)
    apart = compiled.batch_norm_forward(compiled.conv2d_forward(x, w, b, *args), bn_w, bn_b, mean, var, False,
                                        0.0, 1e-5, relu)[0]
    assert folded.shape == apart.shape and np.array_equal(folded, apart)

    out = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                    stride=stride, padding=pad, groups=groups)
    out = TF.batch_norm(out, torch.from_numpy(mean), torch.from_numpy(var), torch.from_numpy(bn_w),
                        torch.from_numpy(bn_b), training=False, eps=1e-5)
    expect = (TF.relu(out) if relu else out).numpy()
    assert_close(folded, expect, np.dtype(dtype).name)
    assert_close(reference.conv2d_batch_norm_forward(x, w, b, *args, bn_w, bn_b, mean, var, 1e-5, relu), expect,
                 np.dtype(dtype).name)


def test_the_affine_after_a_write_needs_an_array_it_can_write_in_place(rng):
    from cnnlab.kernels.compiled.norm import apply_affine

    strided = rng.standard_normal((2, 3, 4, 8))[..., ::2]
    with pytest.raises(ValueError, match="C-contiguous or channels-last"):
        apply_affine(strided, np.ones(3), np.zeros(3), False)
