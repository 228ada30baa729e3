"""batch_norm and local_response_norm against PyTorch: values, every gradient, running statistics, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional.norm as N
from helpers import assert_close, check_against_torch, gradcheck

R = np.random.default_rng(5)

# (shape, training, affine, momentum), a seeded sweep over the argument space
BN_CONFIGS = [(shape, training, affine, momentum)
              for shape in [(6, 3), (4, 3, 5), (3, 2, 4, 5)]
              for training in (True, False)
              for affine in ("both", "none", "weight", "bias")
              for momentum in ((0.1, 0.5) if training else (0.1,))]
BN_CONFIGS += [((4, 3), True, "both", 0.0), ((4, 3, 2, 2), True, "both", 1.0), ((2, 3, 2, 2), True, "both", 0.9)]


def _bn_case(shape, affine):
    c = shape[1]
    x = R.standard_normal(shape) * 2 + R.standard_normal((1, c) + (1,) * (len(shape) - 2))
    rm, rv = R.standard_normal(c), R.uniform(0.5, 2.0, c)
    w = R.uniform(0.5, 1.5, c) if affine in ("both", "weight") else None
    b = R.standard_normal(c) if affine in ("both", "bias") else None
    return x, rm, rv, w, b


@pytest.mark.parametrize("shape,training,affine,momentum", BN_CONFIGS)
def test_batch_norm_against_torch(shape, training, affine, momentum):
    x, rm, rv, w, b = _bn_case(shape, affine)
    g = R.standard_normal(shape)
    for dtype in ("float64", "float32"):
        def make(lib, a, rg=True):
            if a is None:
                return None
            return (cnnlab.tensor(a.astype(dtype), requires_grad=rg) if lib == "ours"
                    else torch.tensor(a.astype(dtype), requires_grad=rg))
        ours = [make("ours", a) for a in (x, w, b)]
        theirs = [make("torch", a) for a in (x, w, b)]
        ours_stats = [make("ours", a, False) for a in (rm, rv)]
        their_stats = [make("torch", a, False) for a in (rm, rv)]
        out = N.batch_norm(ours[0], *ours_stats, ours[1], ours[2], training, momentum, 1e-5)
        ref = TF.batch_norm(theirs[0], *their_stats, theirs[1], theirs[2], training, momentum, 1e-5)
        assert out.dtype == np.dtype(dtype)
        assert_close(out.numpy(), ref.detach().numpy(), dtype, "forward")
        for o, t, what in zip(ours_stats, their_stats, ("running_mean", "running_var")):
            assert o.dtype == np.dtype(dtype)
            assert_close(o.numpy(), t.numpy(), dtype, what)
        out.backward(g.astype(dtype))
        ref.backward(torch.tensor(g.astype(dtype)))
        for o, t, what in zip(ours, theirs, ("input", "weight", "bias")):
            if o is not None:
                assert_close(o.grad.numpy(), t.grad.numpy(), dtype, f"gradient of {what}")


def test_batch_norm_without_running_stats_in_training():
    x, _, _, w, b = _bn_case((5, 4, 3, 3), "both")
    check_against_torch(lambda a, c, d: N.batch_norm(a, None, None, c, d, training=True),
                        lambda a, c, d: TF.batch_norm(a, None, None, c, d, training=True), [x, w, b])


def test_batch_norm_eval_gradient_only_for_parameters():
    x, rm, rv, w, b = _bn_case((4, 3, 2, 2), "both")
    check_against_torch(lambda a, c, d: N.batch_norm(a, cnnlab.tensor(rm), cnnlab.tensor(rv), c, d),
                        lambda a, c, d: TF.batch_norm(a, torch.tensor(rm), torch.tensor(rv), c, d),
                        [x, w, b], grad=[False, True, True], dtypes=("float64",))


def test_batch_norm_running_stats_float32_with_float64_input():
    x = R.standard_normal((8, 3))
    rm, rv = cnnlab.zeros(3), cnnlab.ones(3)
    N.batch_norm(cnnlab.tensor(x), rm, rv, training=True, momentum=0.2)
    assert rm.dtype == np.float32 and rv.dtype == np.float32
    assert_close(rm.numpy(), 0.2 * x.mean(axis=0), "float32")
    assert_close(rv.numpy(), 0.8 + 0.2 * x.var(axis=0, ddof=1), "float32")


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    x, rm, rv, w, b = _bn_case((3, 2, 2, 2), "both")

    def fn(a, c, d):  # running statistics are left out in training so repeated calls stay identical
        stats = (None, None) if training else (cnnlab.tensor(rm), cnnlab.tensor(rv))
        return N.batch_norm(a, *stats, c, d, training=training)

    gradcheck(fn, [x, w, b])
    gradcheck(lambda a: N.batch_norm(a, None, None, training=True), [R.standard_normal((4, 3))])


def test_batch_norm_errors():
    x = cnnlab.tensor(np.zeros((4, 3, 2, 2), dtype=np.float32))
    c3, c4 = cnnlab.zeros(3), cnnlab.zeros(4)
    with pytest.raises(ValueError, match=r"batch_norm: `input` must be at least 2-D \(N, C, \*\)\. "
                                         r"Received a 1-D tensor of shape \(3,\)"):
        N.batch_norm(cnnlab.zeros(3), c3, c3)
    with pytest.raises(ValueError, match=r"batch_norm: `running_mean` must have shape \(3,\), one value per "
                                         r"channel of the input \(input shape \(4, 3, 2, 2\)\)\. "
                                         r"Received running_mean shape \(4,\)"):
        N.batch_norm(x, c4, c3)
    with pytest.raises(ValueError, match=r"batch_norm: `running_var` must have shape \(3,\)"):
        N.batch_norm(x, c3, c4)
    with pytest.raises(ValueError, match=r"batch_norm: `weight` must have shape \(3,\).*Received weight shape \(4,\)"):
        N.batch_norm(x, c3, c3, weight=c4)
    with pytest.raises(ValueError, match=r"batch_norm: `bias` must have shape \(3,\)"):
        N.batch_norm(x, c3, c3, bias=c4)
    with pytest.raises(TypeError, match=r"batch_norm: `weight` must have the input's dtype float32\. "
                                        r"Received dtype float64"):
        N.batch_norm(x, c3, c3, weight=cnnlab.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training\. "
                                         r"Received input shape \(1, 3\)"):
        N.batch_norm(cnnlab.zeros(1, 3), c3, c3, training=True)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3, 1, 1\)"):
        N.batch_norm(cnnlab.zeros(1, 3, 1, 1), None, None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm: `momentum` must be a number in \[0, 1\]\. "
                                        r"Received: momentum=None \(for a cumulative moving average"):
        N.batch_norm(x, c3, c3, training=True, momentum=None)
    with pytest.raises(ValueError, match=r"batch_norm: `momentum` must be a number in \[0, 1\]\. "
                                         r"Received: momentum=1\.5"):
        N.batch_norm(x, c3, c3, training=True, momentum=1.5)
    with pytest.raises(ValueError, match=r"batch_norm: `eps` must be a non-negative number\. Received: eps=-1"):
        N.batch_norm(x, c3, c3, eps=-1)
    with pytest.raises(ValueError, match=r"batch_norm: `running_mean` and `running_var` must be given in "
                                         r"evaluation mode \(training=False\)\. Received: running_mean=None"):
        N.batch_norm(x, None, c3)
    with pytest.raises(TypeError, match=r"batch_norm: `input` must be a floating tensor"):
        N.batch_norm(cnnlab.tensor(np.zeros((2, 3), dtype=np.int64)), c3, c3)


# ---------------------------------------------------------------------------------------------- LRN
LRN_CONFIGS = [(size, shape, alpha, beta, k)
               for size in range(1, 8)
               for shape, alpha, beta, k in [((2, 6, 3, 3), 1e-4, 0.75, 1.0), ((2, 5, 4), 0.5, 0.6, 2.0),
                                             ((1, 7, 2, 3), 2.0, 1.5, 0.5)]]
LRN_CONFIGS += [(3, (2, 4, 2, 2, 2), 0.3, 0.75, 1.0), (9, (2, 3, 2, 2), 0.4, 0.75, 1.0)]


@pytest.mark.parametrize("size,shape,alpha,beta,k", LRN_CONFIGS)
def test_local_response_norm_against_torch(size, shape, alpha, beta, k):
    x = R.standard_normal(shape) * 1.5
    check_against_torch(lambda a: N.local_response_norm(a, size, alpha, beta, k),
                        lambda a: TF.local_response_norm(a, size, alpha, beta, k), [x])


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm_gradcheck(size):
    gradcheck(lambda a: N.local_response_norm(a, size, alpha=0.7, beta=0.75, k=1.0),
              [R.standard_normal((2, 5, 2, 2))])


def test_local_response_norm_alexnet_defaults():
    x = R.standard_normal((2, 16, 5, 5)) * 10
    check_against_torch(lambda a: N.local_response_norm(a, 5, k=2.0), lambda a: TF.local_response_norm(a, 5, k=2.0),
                        [x])


def test_local_response_norm_errors():
    x = cnnlab.tensor(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"local_response_norm: `input` must be at least 3-D \(N, C, \*\)\. "
                                         r"Received a 2-D tensor of shape \(2, 3\)"):
        N.local_response_norm(cnnlab.tensor(np.zeros((2, 3))), 3)
    for size in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"local_response_norm: `size` must be a positive int\. Received: size="):
            N.local_response_norm(x, size)
    with pytest.raises(TypeError, match=r"local_response_norm: `beta` must be a finite real number\. "
                                        r"Received: beta=None"):
        N.local_response_norm(x, 3, beta=None)
    with pytest.raises(TypeError, match=r"local_response_norm: `input` must be a floating tensor"):
        N.local_response_norm(cnnlab.tensor(np.zeros((2, 3, 4), dtype=np.int64)), 3)
