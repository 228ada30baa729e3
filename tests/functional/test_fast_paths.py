"""The speed paths of the ops against PyTorch: channels-last memory and tiling pools.

The sweeps in test_conv.py and test_pool.py use NCHW-contiguous inputs. Here the inputs of pooling,
normalisation and activations are given in the channels-last memory that convolutions may return.
(The convolution kernels' own paths are tested in tests/kernels/.)
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F
from helpers import assert_close, check_against_torch


def channels_last(a):
    """The same values as (N, C, H, W) ``a``, stored as (N, H, W, C)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def test_conv2d_output_is_accepted_as_input(rng):
    """Whatever memory layout a convolution returns, the next one reads it."""
    x, w1, w2 = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((5, 4, 3, 3))
    check_against_torch(lambda x, a, b: F.conv2d(F.conv2d(x, a, padding=1, stride=2), b),
                        lambda x, a, b: TF.conv2d(TF.conv2d(x, a, padding=1, stride=2), b), [x, w1, w2])


def _channels_last_check(our_op, torch_op, x, rng, **kw):
    """Compare an op on channels-last input (and a channels-last upstream gradient) with torch."""
    for dtype in ("float64", "float32"):
        xd = channels_last(x.astype(dtype))
        ours = cnnlab.tensor(xd, requires_grad=True)
        theirs = torch.tensor(x.astype(dtype), requires_grad=True)
        out, ref = our_op(ours), torch_op(theirs)
        assert_close(out.numpy(), ref.detach().numpy(), dtype, "forward")
        g = rng.standard_normal(ref.shape).astype(dtype)
        out.backward(channels_last(g) if g.ndim == 4 else g)
        ref.backward(torch.tensor(g))
        assert_close(ours.grad.numpy(), theirs.grad.numpy(), dtype, "gradient")


@pytest.mark.parametrize("kernel,stride,padding,size", [(2, 2, 0, (8, 10)), (2, 2, 0, (9, 7)), (3, 2, 1, (9, 9)),
                                                        (3, 3, 0, (9, 9)), (3, 1, 1, (6, 7))])
def test_max_pool_on_channels_last(kernel, stride, padding, size, rng):
    x = rng.standard_normal((2, 5) + size)
    _channels_last_check(lambda t: F.max_pool2d(t, kernel, stride, padding),
                         lambda t: TF.max_pool2d(t, kernel, stride, padding), x, rng)


def test_max_pool_ties_go_to_the_first_element(rng):
    # Quantised values tie often inside 2x2 and overlapping 3x3 windows; PyTorch gives the first one.
    x = rng.integers(0, 3, (2, 3, 8, 8)).astype(np.float64)
    for args in ((2, 2, 0), (3, 2, 1), (3, 1, 0)):
        _channels_last_check(lambda t: F.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), x, rng)
        check_against_torch(lambda t: F.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), [x])


def test_max_pool_with_nan_and_all_minus_inf_windows():
    x = np.zeros((1, 2, 4, 4))
    x[0, 0, 0, 1] = np.nan                   # NaN wins its window
    x[0, 1, :2, :2] = -np.inf                # a window of -inf next to -inf padding
    g = np.arange(1.0, 1 + 2 * 3 * 3).reshape(1, 2, 3, 3)
    for args in ((2, 2, 0), (3, 2, 1)):
        ours = cnnlab.tensor(channels_last(x), requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        out, ref = F.max_pool2d(ours, *args), TF.max_pool2d(theirs, *args)
        np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
        gg = g[..., :ref.shape[2], :ref.shape[3]]
        out.backward(np.ascontiguousarray(gg))
        ref.backward(torch.tensor(gg))
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1)])
def test_avg_pool_on_channels_last(kernel, stride, padding, rng):
    x = rng.standard_normal((2, 4, 8, 9))
    _channels_last_check(lambda t: F.avg_pool2d(t, kernel, stride, padding),
                         lambda t: TF.avg_pool2d(t, kernel, stride, padding), x, rng)


def test_adaptive_avg_pool_on_channels_last(rng):
    x = rng.standard_normal((3, 4, 6, 6))
    _channels_last_check(lambda t: F.adaptive_avg_pool2d(t, 1), lambda t: TF.adaptive_avg_pool2d(t, 1), x, rng)
    _channels_last_check(lambda t: F.adaptive_avg_pool2d(t, 3), lambda t: TF.adaptive_avg_pool2d(t, 3), x, rng)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_on_channels_last(training, rng):
    x = rng.standard_normal((4, 3, 5, 6)) * 3 + 2
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    for dtype in ("float64", "float32"):
        xs = [cnnlab.tensor(channels_last(x.astype(dtype)), requires_grad=True),
              cnnlab.tensor(w.astype(dtype), requires_grad=True), cnnlab.tensor(b.astype(dtype), requires_grad=True)]
        ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b)]
        out = F.batch_norm(xs[0], cnnlab.tensor(mean.astype(dtype)), cnnlab.tensor(var.astype(dtype)), xs[1], xs[2],
                           training=training)
        ref = TF.batch_norm(ts[0], torch.tensor(mean.astype(dtype)), torch.tensor(var.astype(dtype)), ts[1], ts[2],
                            training=training)
        assert_close(out.numpy(), ref.detach().numpy(), dtype, "forward")
        g = rng.standard_normal(x.shape).astype(dtype)
        out.backward(g)            # an NCHW gradient for channels-last data: the layouts differ
        ref.backward(torch.tensor(g))
        for i, (o, t) in enumerate(zip(xs, ts)):
            assert_close(o.grad.numpy(), t.grad.numpy(), dtype, f"gradient {i}")


def test_relu_on_channels_last(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    _channels_last_check(F.relu, torch.relu, x, rng)


def test_small_network_matches_torch(rng):
    """conv-BN-ReLU-pool twice, flatten, linear: every layout change of a real step, against torch."""
    x = rng.standard_normal((4, 1, 12, 12))
    w1, w2 = rng.standard_normal((6, 1, 5, 5)) * 0.3, rng.standard_normal((8, 6, 3, 3)) * 0.2
    fc = rng.standard_normal((10, 8 * 3 * 3)) * 0.1

    def ours(x, w1, w2, fc):
        h = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(x, w1, padding=2), None, None, training=True)), 2)
        h = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(h, w2, padding=1), None, None, training=True)), 2)
        return F.linear(F.flatten(h, 1), fc)

    def theirs(x, w1, w2, fc):
        h = TF.max_pool2d(torch.relu(TF.batch_norm(TF.conv2d(x, w1, padding=2), None, None, training=True)), 2)
        h = TF.max_pool2d(torch.relu(TF.batch_norm(TF.conv2d(h, w2, padding=1), None, None, training=True)), 2)
        return TF.linear(torch.flatten(h, 1), fc)

    check_against_torch(ours, theirs, [x, w1, w2, fc])
