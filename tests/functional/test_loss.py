"""Losses against PyTorch (values, gradients of input and soft targets), stability, gradcheck and errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional.loss as L
from helpers import assert_close, check_against_torch, gradcheck

R = np.random.default_rng(9)
REDUCTIONS = ["mean", "sum", "none"]


def _labels(n_classes, shape, ignore=None, fraction=0.3):
    y = R.integers(0, n_classes, shape)
    if ignore is not None:
        y[R.random(shape) < fraction] = ignore
    return y


def _tw(w):
    """Class weights for the torch side, in the input's dtype (cnnlab takes NumPy arrays as they are)."""
    return (lambda x: None) if w is None else (lambda x: torch.tensor(w, dtype=x.dtype))


# (input shape, weighted, label_smoothing, reduction, ignore_index)
CE_CONFIGS = [(shape, weighted, ls, red, ign)
              for shape in [(6, 5), (3, 4, 2, 3)]
              for weighted in (False, True)
              for ls in (0.0, 0.2)
              for red in REDUCTIONS
              for ign in (None, -100, 2)]
CE_CONFIGS += [((5,), w, ls, red, None) for w in (False, True) for ls in (0.0, 0.3) for red in REDUCTIONS]
CE_CONFIGS += [((4, 3, 5), True, 1.0, "mean", 1), ((8, 10), False, 0.5, "mean", None)]


@pytest.mark.parametrize("shape,weighted,ls,reduction,ignore", CE_CONFIGS)
def test_cross_entropy_class_indices(shape, weighted, ls, reduction, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    x = R.standard_normal(shape) * 2
    y = _labels(c, () if len(shape) == 1 else (shape[0],) + shape[2:], ignore)
    w = R.uniform(0.2, 2.0, c) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=ls, ignore_index=-100 if ignore is None else ignore)
    tw = _tw(w)
    check_against_torch(lambda a, t: L.cross_entropy(a, t, weight=w, **kw),
                        lambda a, t: TF.cross_entropy(a, t, weight=tw(a), **kw), [x, y])


# (input shape, weighted, label_smoothing, reduction)
CE_PROB_CONFIGS = [(shape, weighted, ls, red) for shape in [(4, 5), (2, 3, 2, 2), (6,)]
                   for weighted in (False, True) for ls in (0.0, 0.25) for red in REDUCTIONS]


@pytest.mark.parametrize("shape,weighted,ls,reduction", CE_PROB_CONFIGS)
def test_cross_entropy_probability_targets(shape, weighted, ls, reduction):
    c = shape[0] if len(shape) == 1 else shape[1]
    x = R.standard_normal(shape) * 2
    axis = 0 if len(shape) == 1 else 1
    t = np.exp(R.standard_normal(shape))
    t /= t.sum(axis=axis, keepdims=True)
    w = R.uniform(0.2, 2.0, c) if weighted else None
    tw = _tw(w)
    kw = dict(reduction=reduction, label_smoothing=ls)
    check_against_torch(lambda a, b: L.cross_entropy(a, b, weight=w, **kw),
                        lambda a, b: TF.cross_entropy(a, b, weight=tw(a), **kw), [x, t])


def test_cross_entropy_target_types():
    x = R.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    ref = TF.cross_entropy(torch.tensor(x), torch.tensor(y)).item()
    for target in (y, cnnlab.tensor(y), y.astype(np.int32), y.astype(np.uint8)):
        assert_close(L.cross_entropy(cnnlab.tensor(x), target).item(), ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_stable_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4 + 5], [3.0, 1.0, -2.0]])
    y = np.array([1, 2, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = L.cross_entropy(cnnlab.tensor(x.astype(dtype)), y, reduction="none")
    assert np.isfinite(out.numpy()).all()
    for ls in (0.0, 0.1):
        check_against_torch(lambda a, t: L.cross_entropy(a, t, label_smoothing=ls),
                            lambda a, t: TF.cross_entropy(a, t, label_smoothing=ls), [x, y], dtypes=(dtype,))
    t = np.full((4, 3), 1 / 3)
    check_against_torch(L.cross_entropy, TF.cross_entropy, [x, t], dtypes=(dtype,))


def test_cross_entropy_all_ignored_mean_is_nan_like_pytorch():
    x = cnnlab.tensor(R.standard_normal((3, 4)), requires_grad=True)
    y = np.full(3, -100)
    out = L.cross_entropy(x, y)
    assert np.isnan(out.item()) and np.isnan(TF.cross_entropy(torch.tensor(x.numpy()), torch.tensor(y)).item())
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_legacy_size_average_and_reduce():
    x, y = R.standard_normal((5, 4)), R.integers(0, 4, 5)
    for size_average, reduce in [(None, None), (False, None), (None, False), (True, True), (False, True)]:
        kw = dict(size_average=size_average, reduce=reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_against_torch(lambda a, t: L.cross_entropy(a, t, **kw), lambda a, t: TF.cross_entropy(a, t, **kw),
                                [x, y], dtypes=("float64",))
            check_against_torch(lambda a, t: L.nll_loss(a, t, **kw), lambda a, t: TF.nll_loss(a, t, **kw),
                                [x, y], dtypes=("float64",))


# (input shape, weighted, reduction, ignore_index)
NLL_CONFIGS = [(shape, weighted, red, ign) for shape in [(6, 4), (2, 3, 3, 2), (4,)]
               for weighted in (False, True) for red in REDUCTIONS for ign in (None, 1)]


@pytest.mark.parametrize("shape,weighted,reduction,ignore", NLL_CONFIGS)
def test_nll_loss(shape, weighted, reduction, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    x = R.standard_normal(shape)
    y = _labels(c, () if len(shape) == 1 else (shape[0],) + shape[2:], ignore)
    w = R.uniform(0.2, 2.0, c) if weighted else None
    tw = _tw(w)
    kw = dict(reduction=reduction, ignore_index=-100 if ignore is None else ignore)
    check_against_torch(lambda a, t: L.nll_loss(a, t, weight=w, **kw),
                        lambda a, t: TF.nll_loss(a, t, weight=tw(a), **kw), [x, y])


def test_nll_loss_accepts_minus_inf_log_probabilities():
    with np.errstate(divide="ignore"):
        x = np.log(np.array([[0.0, 0.5, 0.5], [0.2, 0.8, 0.0]]))
    y = np.array([1, 0])
    with np.errstate(divide="ignore"):
        check_against_torch(L.nll_loss, TF.nll_loss, [x, y])


def test_log_softmax_then_nll_equals_cross_entropy():
    import cnnlab.functional.activation as A
    x, y = R.standard_normal((5, 4)), R.integers(0, 4, 5)
    a = cnnlab.tensor(x)
    assert_close(L.nll_loss(A.log_softmax(a, 1), y).item(), L.cross_entropy(a, y).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_loss(reduction, weighted):
    x, t = R.standard_normal((3, 4, 2)), R.standard_normal((3, 4, 2))
    w = R.uniform(0.1, 2.0, (3, 4, 2)) if weighted else None
    tw = _tw(w)
    check_against_torch(lambda a, b: L.mse_loss(a, b, reduction=reduction, weight=w),
                        lambda a, b: TF.mse_loss(a, b, reduction=reduction, weight=tw(a)), [x, t])


def test_mse_loss_broadcast_target_warns():
    x, t = R.standard_normal((3, 4)), R.standard_normal((4,))
    with pytest.warns(UserWarning, match=r"mse_loss: target shape \(4,\) differs from input shape \(3, 4\)"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Using a target size")  # PyTorch's own warning
            check_against_torch(L.mse_loss, TF.mse_loss, [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (4,), (3, 4)])
def test_binary_cross_entropy(reduction, weight_shape):
    x, t = R.uniform(0.02, 0.98, (3, 4)), R.uniform(0, 1, (3, 4))
    w = None if weight_shape is None else R.uniform(0.2, 2.0, weight_shape)
    tw = _tw(w)
    check_against_torch(lambda a, b: L.binary_cross_entropy(a, b, weight=w, reduction=reduction),
                        lambda a, b: TF.binary_cross_entropy(a, b, weight=tw(a), reduction=reduction), [x, t])


def test_binary_cross_entropy_at_zero_and_one():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-50])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3])
    # the loss clamps each log at -100; the input gradient bounds x (1 - x) below by 1e-12
    check_against_torch(lambda a, b: L.binary_cross_entropy(a, b, reduction="sum"),
                        lambda a, b: TF.binary_cross_entropy(a, b, reduction="sum"), [x, t], grad=[True, False],
                        dtypes=("float64",))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_binary_cross_entropy_with_logits(reduction, weighted, pos_weighted):
    x, t = R.standard_normal((3, 4)) * 3, R.uniform(0, 1, (3, 4))
    w = R.uniform(0.2, 2.0, (3, 4)) if weighted else None
    pw = R.uniform(0.5, 3.0, 4) if pos_weighted else None
    tw, tpw = _tw(w), _tw(pw)
    check_against_torch(
        lambda a, b: L.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction, pos_weight=pw),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=tw(a), reduction=reduction, pos_weight=tpw(a)),
        [x, t])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_with_logits_stable(dtype):
    x = np.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4])
    t = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0])
    pw = np.array([2.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = L.binary_cross_entropy_with_logits(cnnlab.tensor(x.astype(dtype)), t, reduction="none")
    assert np.isfinite(out.numpy()).all()
    check_against_torch(lambda a, b: L.binary_cross_entropy_with_logits(a, b, reduction="sum", pos_weight=pw),
                        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="sum",
                                                                         pos_weight=torch.tensor(pw, dtype=a.dtype)),
                        [x, t], dtypes=(dtype,))


def test_losses_gradcheck():
    x4 = R.standard_normal((2, 3, 2, 2))
    y4 = R.integers(0, 3, (2, 2, 2))
    y4[0, 0, 0] = -100
    w = np.array([0.5, 1.0, 2.0])
    gradcheck(lambda a: L.cross_entropy(a, y4, weight=w, label_smoothing=0.1), [x4])
    t = np.abs(R.standard_normal((4, 3)))
    gradcheck(lambda a, b: L.cross_entropy(a, b, weight=w, label_smoothing=0.2, reduction="sum"),
              [R.standard_normal((4, 3)), t])
    gradcheck(lambda a: L.nll_loss(a, y4, weight=w), [x4])
    gradcheck(lambda a, b: L.mse_loss(a, b, reduction="sum"), [R.standard_normal((3, 2)), R.standard_normal((3, 2))])
    gradcheck(lambda a, b: L.binary_cross_entropy(a, b, weight=np.array([1.0, 2.0])),
              [R.uniform(0.1, 0.9, (3, 2)), R.uniform(0, 1, (3, 2))])
    gradcheck(lambda a, b: L.binary_cross_entropy_with_logits(a, b, pos_weight=np.array([0.5, 3.0])),
              [R.standard_normal((3, 2)), R.uniform(0, 1, (3, 2))])


# ---------------------------------------------------------------------------------------------- errors
def test_cross_entropy_errors():
    x = cnnlab.tensor(np.zeros((4, 10), dtype=np.float32))
    with pytest.raises(TypeError, match=r"cross_entropy: class-index `target` must be an integer tensor \(int64\)\. "
                                        r"Received dtype float32 \(class probabilities need a floating target of "
                                        r"the input's shape \(4, 10\)\)"):
        L.cross_entropy(x, np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    with pytest.raises(TypeError, match=r"class-index `target` must be an integer tensor \(int64\)\. "
                                        r"Received dtype float64"):
        L.cross_entropy(x, np.array([1.5, 2.0, 3.0, 4.0]))
    with pytest.raises(TypeError, match=r"Received dtype bool"):
        L.cross_entropy(x, np.array([True, False, True, True]))
    with pytest.raises(ValueError, match=r"cross_entropy: target contains label 10 but input has 10 classes "
                                         r"\(valid labels are 0\.\.9"):
        L.cross_entropy(x, np.array([1, 10, 3, 4]))
    with pytest.raises(ValueError, match=r"cross_entropy: target contains label -1 but input has 10 classes"):
        L.cross_entropy(x, np.array([1, -1, 3, 4]))
    with pytest.raises(ValueError, match=r"cross_entropy: input batch size 4 does not match target batch size 6 "
                                         r"\(input shape \(4, 10\), target shape \(6,\)\)"):
        L.cross_entropy(x, np.zeros(6, dtype=np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy: `target` must have shape \(2, 4, 4\) for input shape "
                                         r"\(2, 3, 4, 4\)\. Received target shape \(2, 5, 5\)"):
        L.cross_entropy(cnnlab.zeros(2, 3, 4, 4), np.zeros((2, 5, 5), dtype=np.int64))
    bad = np.zeros((4, 10), dtype=np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"cross_entropy: input contains NaN \(1 of 40 values are not finite\)"):
        L.cross_entropy(cnnlab.tensor(bad), np.zeros(4, dtype=np.int64))
    bad[1, 2], bad[0, 0] = np.inf, -np.inf
    with pytest.raises(ValueError, match=r"cross_entropy: input contains Inf \(2 of 40 values"):
        L.cross_entropy(cnnlab.tensor(bad), np.zeros(4, dtype=np.int64))
    soft = np.full((4, 10), 0.1, dtype=np.float32)
    soft[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"cross_entropy: target contains NaN"):
        L.cross_entropy(x, soft)
    with pytest.raises(ValueError, match=r"cross_entropy: `ignore_index` is not supported for class-probability "
                                         r"targets\. Received: ignore_index=3"):
        L.cross_entropy(x, np.full((4, 10), 0.1, dtype=np.float32), ignore_index=3)
    y = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match=r"cross_entropy: `reduction` must be one of 'none', 'mean', 'sum'\. "
                                         r"Received: reduction='avg'"):
        L.cross_entropy(x, y, reduction="avg")
    for ls in (1.5, -0.1):
        with pytest.raises(ValueError, match=rf"cross_entropy: `label_smoothing` must be a number in \[0, 1\]\. "
                                             rf"Received: label_smoothing={ls}"):
            L.cross_entropy(x, y, label_smoothing=ls)
    with pytest.raises(ValueError, match=r"cross_entropy: `weight` must have shape \(10,\), one weight per class\. "
                                         r"Received weight shape \(3,\)"):
        L.cross_entropy(x, y, weight=np.ones(3))
    with pytest.raises(TypeError, match=r"cross_entropy: `ignore_index` must be an int\. Received: ignore_index=1\.5"):
        L.cross_entropy(x, y, ignore_index=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: `input` must hold class scores.*Received a 0-D tensor"):
        L.cross_entropy(cnnlab.tensor(1.0), y)
    with pytest.raises(ValueError, match=r"cross_entropy: an unbatched input of shape \(10,\) needs a 0-D "
                                         r"class-index target"):
        L.cross_entropy(cnnlab.zeros(10), y)
    with pytest.raises(TypeError, match=r"cross_entropy: `target` must be a Tensor\. Received an object of type list"):
        L.cross_entropy(x, [0, 1, 2, 3])


def test_nll_loss_errors():
    x = cnnlab.tensor(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"nll_loss: target contains label 5 but input has 5 classes "
                                         r"\(valid labels are 0\.\.4"):
        L.nll_loss(x, np.array([0, 5, 1]))
    with pytest.raises(TypeError, match=r"nll_loss: class-index `target` must be an integer tensor"):
        L.nll_loss(x, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"nll_loss: input batch size 3 does not match target batch size 2"):
        L.nll_loss(x, np.array([0, 1]))
    bad = np.zeros((3, 5))
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"nll_loss: input contains NaN \(1 of 15 values\); "
                                         r"expected log-probabilities"):
        L.nll_loss(cnnlab.tensor(bad), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"nll_loss: `reduction` must be one of 'none', 'mean', 'sum'\. "
                                         r"Received: reduction='max'"):
        L.nll_loss(x, np.array([0, 1, 2]), reduction="max")
    with pytest.raises(ValueError, match=r"nll_loss: an unbatched input of shape \(5,\) needs a 0-D target"):
        L.nll_loss(cnnlab.zeros(5), np.array([0, 1]))


def test_regression_and_binary_loss_errors():
    x = cnnlab.tensor(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"mse_loss: `target` shape \(4,\) does not broadcast against input shape "
                                         r"\(2, 3\); expected the input's shape"):
        L.mse_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match=r"mse_loss: target contains Inf"):
        L.mse_loss(x, np.full((2, 3), np.inf))
    with pytest.raises(ValueError, match=r"mse_loss: `weight` must have shape \(2, 3\), the input's shape\. "
                                         r"Received weight shape \(3,\)"):
        L.mse_loss(x, np.zeros((2, 3)), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"mse_loss: `reduction` must be one of"):
        L.mse_loss(x, np.zeros((2, 3)), reduction="mean ")
    with pytest.raises(ValueError, match=r"binary_cross_entropy: `input` values must be probabilities in \[0, 1\]\. "
                                         r"Received values in \[-0\.5, 1\.2\] \(for logits use "
                                         r"binary_cross_entropy_with_logits\)"):
        L.binary_cross_entropy(cnnlab.tensor([[-0.5, 1.2, 0.3]]), np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: `input` values must be probabilities .* nan"):
        L.binary_cross_entropy(cnnlab.tensor([[np.nan, 0.2]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: `target` must have the input's shape \(2, 3\)\. "
                                         r"Received target shape \(3,\)"):
        L.binary_cross_entropy(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: `weight` shape \(2,\) does not broadcast to the "
                                         r"input's shape \(2, 3\)"):
        L.binary_cross_entropy(x, np.zeros((2, 3)), weight=np.ones(2))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: input contains NaN"):
        L.binary_cross_entropy_with_logits(cnnlab.tensor([[np.nan, 1.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: `pos_weight` shape \(2,\) does not "
                                         r"broadcast"):
        L.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), pos_weight=np.ones(2))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: `target` must have the input's shape"):
        L.binary_cross_entropy_with_logits(x, np.zeros((3, 2)))
    with pytest.raises(TypeError, match=r"mse_loss: `input` must be a floating tensor"):
        L.mse_loss(cnnlab.tensor([1, 2]), np.zeros(2))
